"""The MemOS filter grammar, read into a small tree that ``storage`` turns into SQL.

    {"and": [cond, ...]}  or  {"or": [cond, ...]}        (nested freely, up to MAX_DEPTH)
    cond:  {"field": value}                               equality
           {"field": {"gte"|"gt"|"lte"|"lt"|"eq": value}}  comparison
           {"tags": {"contains": "x"}}                    membership (also for list-valued info)

Fields: agent_id, app_id, conversation_id, memory_type, create_time, update_time, tags, and any
key of the ``info`` object given at add time. Times are epoch milliseconds or date-time strings.
A condition object with several fields, or a field with several operators, means all of them,
wherever it stands (an item of "or" included).

Numbers become ``Decimal``s here, so a comparison is exact at any size or precision: an integer
as written, a float as the shortest decimal that reads back as it (the API hands over floats that
keep the digits the client wrote: ``api.exact_numbers``). Ordered comparisons take a number or a
string, never a boolean (a boolean has no order worth asking for; equality works).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from memos_server.errors import BadRequest
from memos_server.times import parse_time

TEXT_FIELDS = ("agent_id", "app_id", "conversation_id", "memory_type")
TIME_FIELDS = ("create_time", "update_time")
OPERATORS = ("eq", "gt", "gte", "lt", "lte", "contains")
MAX_DEPTH = 6
MAX_CONDITIONS = 64

Operator = Literal["eq", "gt", "gte", "lt", "lte", "contains"]


@dataclass(frozen=True)
class Compare:
    field: str
    op: Operator
    value: Any

    @property
    def kind(self) -> Literal["text", "time", "tags", "info"]:
        if self.field in TEXT_FIELDS:
            return "text"
        if self.field in TIME_FIELDS:
            return "time"
        if self.field == "tags":
            return "tags"
        return "info"


@dataclass(frozen=True)
class All:
    parts: tuple[Filter, ...]


@dataclass(frozen=True)
class Any_:
    parts: tuple[Filter, ...]


Filter = Compare | All | Any_


def _time(field: str, value: Any) -> datetime:
    try:
        return parse_time(value, numbers="ms")
    except ValueError as error:
        raise BadRequest(f"filter: {field} {value!r:.100} {error}") from None


def _exact(value: Any) -> Any:
    """The value with every number as an exact ``Decimal`` (booleans stay booleans)."""
    if isinstance(value, bool) or not isinstance(value, int | float | list | dict):
        return value
    if isinstance(value, list):
        return [_exact(item) for item in value]
    if isinstance(value, dict):
        return {key: _exact(item) for key, item in value.items()}
    if isinstance(value, int):
        return Decimal(value)
    # repr: the shortest text that reads back as the float, or the client's own digits.
    text = repr(value)
    shown = text if len(text) <= 40 else f"{text[:40]}…"
    try:
        number = Decimal(text)
    except InvalidOperation:  # an exponent beyond 10**±999999999999999999
        raise BadRequest(f"filter: the number {shown} is out of range") from None
    if not number.is_finite():
        raise BadRequest(f"filter: {shown} is not a finite number")
    return number


def _compare(field: str, op: str, value: Any) -> Compare:
    if op not in OPERATORS:
        raise BadRequest(
            f"filter: unknown operator {op!r} on {field!r} (use {', '.join(OPERATORS)})"
        )
    if isinstance(value, dict | list) and not (op == "eq" and field not in TEXT_FIELDS):
        raise BadRequest(f"filter: {field!r} {op} needs a single value, not {type(value).__name__}")
    if value is None:
        raise BadRequest(f"filter: {field!r} {op} needs a value")
    if field in TEXT_FIELDS and not isinstance(value, str):
        raise BadRequest(f"filter: {field!r} is text; compare it with a string")
    if op == "contains" and field in TEXT_FIELDS + TIME_FIELDS:
        raise BadRequest(f"filter: 'contains' applies to tags or list-valued info, not {field!r}")
    if field == "tags" and op != "contains" and op != "eq":
        raise BadRequest("filter: tags support equality and 'contains' only")
    if field == "tags" and not isinstance(value, str):
        raise BadRequest("filter: a tag is a string")
    if field in TIME_FIELDS:
        if op == "eq":
            raise BadRequest(f"filter: compare {field!r} with gte/gt/lte/lt")
        return Compare(field, op, _time(field, value))  # type: ignore[arg-type]
    if isinstance(value, bool) and op not in ("eq", "contains"):
        raise BadRequest(f"filter: {field!r} {op} needs a number or a string, not a boolean")
    return Compare(field, op, _exact(value))  # type: ignore[arg-type]


def _conditions(node: dict[str, Any], depth: int) -> list[Filter]:
    parts: list[Filter] = []
    for key, value in node.items():
        if key in ("and", "or"):
            parts.append(_parse(node=value, depth=depth + 1, combinator=key))
        elif not isinstance(key, str) or not key.strip():
            raise BadRequest("filter: a field name must be a non-empty string")
        elif isinstance(value, dict):
            if not value:
                raise BadRequest(f"filter: {key!r} has an empty condition")
            parts.extend(_compare(key, op, operand) for op, operand in value.items())
        else:
            parts.append(_compare(key, "eq", value))
    return parts


def _parse(node: Any, depth: int, combinator: str | None = None) -> Filter:
    if depth > MAX_DEPTH:
        raise BadRequest(f"filter: nested deeper than {MAX_DEPTH} levels")
    if combinator is not None:
        if not isinstance(node, list) or not node:
            raise BadRequest(f'filter: "{combinator}" takes a non-empty list of conditions')
        items: list[Filter] = []
        for item in node:
            if not isinstance(item, dict) or not item:
                raise BadRequest(f'filter: each item of "{combinator}" must be a condition object')
            # An item is one condition however many fields or operators it names: all of them.
            conditions = _conditions(item, depth)
            items.append(conditions[0] if len(conditions) == 1 else All(tuple(conditions)))
        return All(tuple(items)) if combinator == "and" else Any_(tuple(items))
    if not isinstance(node, dict):
        raise BadRequest('filter must be an object such as {"and": [{"agent_id": "a1"}]}')
    return All(tuple(_conditions(node, depth)))


def _count(node: Filter) -> int:
    return 1 if isinstance(node, Compare) else sum(_count(part) for part in node.parts)


def parse_filter(raw: dict[str, Any] | None) -> Filter | None:
    """The filter tree, or None for no filter; BadRequest says what is wrong."""
    if raw is None or raw == {}:
        return None
    tree = _parse(raw, depth=1)
    if _count(tree) > MAX_CONDITIONS:
        raise BadRequest(f"filter: more than {MAX_CONDITIONS} conditions")
    return tree
