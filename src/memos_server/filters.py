"""The MemOS filter grammar, read into a small tree that ``storage`` turns into SQL.

    {"and": [cond, ...]}  or  {"or": [cond, ...]}        (nested freely, up to MAX_DEPTH)
    cond:  {"field": value}                               equality
           {"field": {"gte"|"gt"|"lte"|"lt"|"eq": value}}  comparison
           {"tags": {"contains": "x"}}                    membership (also for list-valued info)

Fields: agent_id, app_id, conversation_id, memory_type, create_time, update_time, tags, and any
key of the ``info`` object given at add time. Times are epoch milliseconds or date-time strings.
A condition object with several fields, or a field with several operators, means all of them,
wherever it stands (an item of "or" included).

search/memory and /chat also take the split form ``{"user": <filter>, "knowledgebase": <filter>}``
(either part may be left out): the user part filters memories as above, the knowledgebase part
filters the passages of the named knowledge bases, with the same ``and``/``or`` grammar over
their own fields (``PASSAGE_FIELDS``): ``knowledgebase_id``, ``file_id``, ``file_name`` and
``heading`` (equality), ``page`` (a number, compared), ``create_time`` (the time the document's
passages were stored, compared). Any other field there is refused. The form is recognised by its
``knowledgebase`` key, or by a lone ``user`` key holding a filter object (``{"user": "bob"}`` and
``{"user": {"eq": "bob"}}`` stay conditions on the info key ``user``).

Numbers become ``Decimal``s here, so a comparison is exact at any size or precision: an integer
as written, a float as the shortest decimal that reads back as it (the API hands over floats that
keep the digits the client wrote: ``api.exact_numbers``). Ordered comparisons take a number or a
string, never a boolean (a boolean has no order worth asking for; equality works).
"""

from __future__ import annotations

import uuid
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


SPLIT_KEYS = ("user", "knowledgebase")
PASSAGE_ID_FIELDS = ("knowledgebase_id", "file_id")
PASSAGE_TEXT_FIELDS = ("file_name", "heading")
PASSAGE_FIELDS = (*PASSAGE_ID_FIELDS, *PASSAGE_TEXT_FIELDS, "page", "create_time")


@dataclass(frozen=True)
class SearchFilter:
    """A search's filter: on the user's memories, and on the named bases' passages."""

    user: Filter | None = None
    knowledgebase: Filter | None = None


def _is_split(raw: dict[str, Any]) -> bool:
    if "knowledgebase" in raw:
        return True
    user = raw.get("user")
    return set(raw) == {"user"} and isinstance(user, dict) and not set(user) & set(OPERATORS)


def _passage_condition(node: Compare) -> Compare:
    field, op, value = node.field, node.op, node.value
    if field not in PASSAGE_FIELDS:
        raise BadRequest(
            f"filter.knowledgebase: unknown field {field!r} (use {', '.join(PASSAGE_FIELDS)})"
        )
    if field in PASSAGE_ID_FIELDS + PASSAGE_TEXT_FIELDS:
        if op != "eq" or not isinstance(value, str):
            raise BadRequest(f"filter.knowledgebase: {field!r} takes equality with a string")
        if field in PASSAGE_ID_FIELDS:
            try:
                return Compare(field, op, uuid.UUID(value.strip()))
            except ValueError:
                raise BadRequest(f"filter.knowledgebase: {field} {value!r:.100} is no id") from None
    if field == "page" and (
        op == "contains" or not isinstance(value, Decimal) or value != value.to_integral_value()
    ):
        raise BadRequest("filter.knowledgebase: 'page' compares with a whole number")
    return node


def _passage_tree(node: Filter) -> Filter:
    if isinstance(node, Compare):
        return _passage_condition(node)
    parts = tuple(_passage_tree(part) for part in node.parts)
    return All(parts) if isinstance(node, All) else Any_(parts)


def parse_search_filter(raw: dict[str, Any] | None) -> SearchFilter:
    """A search's filter, plain (on memories only) or split into its user and knowledgebase
    parts; BadRequest says what is wrong."""
    if raw is None or raw == {} or not _is_split(raw):
        return SearchFilter(user=parse_filter(raw))
    extra = sorted(str(key) for key in raw if key not in SPLIT_KEYS)
    if extra:
        raise BadRequest(
            'filter: the split form {"user": …, "knowledgebase": …} takes no other keys '
            f"(got {', '.join(map(repr, extra))})"
        )
    parts: dict[str, Filter | None] = {}
    for key in SPLIT_KEYS:
        part = raw.get(key)
        if part is not None and not isinstance(part, dict):
            raise BadRequest(f"filter.{key} must be a filter object")
        parts[key] = parse_filter(part) if key == "user" else _knowledgebase_filter(part)
    return SearchFilter(user=parts["user"], knowledgebase=parts["knowledgebase"])


def _knowledgebase_filter(raw: dict[str, Any] | None) -> Filter | None:
    if raw is None or raw == {}:
        return None
    tree = _parse(raw, depth=1)
    if _count(tree) > MAX_CONDITIONS:
        raise BadRequest(f"filter.knowledgebase: more than {MAX_CONDITIONS} conditions")
    return _passage_tree(tree)


def parse_memory_filter(raw: dict[str, Any] | None) -> Filter | None:
    """The filter of an endpoint that reads memories only (get/memory, delete/memory): the
    plain form, or a split form's user part; a knowledgebase part is refused."""
    if raw is not None and raw != {} and _is_split(raw):
        if raw.get("knowledgebase"):
            raise BadRequest(
                "filter: a knowledgebase part applies only where passages are searched "
                "(search/memory, chat)"
            )
        return parse_search_filter(raw).user
    return parse_filter(raw)
