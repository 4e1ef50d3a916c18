"""Turn a parsed filter (``memos_server.filters``) into a WHERE clause on ``memories``.

Real columns for every named field; ``info`` keys through JSONB containment (GIN-indexed) for
equality and membership, and through ``info->key`` for comparisons:

- A number compares with the rows whose value is a JSON number, as ``numeric``: exact at any
  size. The cast sits behind a ``CASE`` on ``jsonb_typeof``, the one form whose order Postgres
  promises to keep, so it never meets a string such as ``"1e999999"`` (which would not fit).
  A JSON number in ``jsonb`` always fits ``numeric``: Postgres refuses to store one that does not.
- The filter's number may not fit ``numeric`` (``1e-200000``, ``10**200000``); it is replaced by
  the nearest one that does and answers the same for every storable number (see ``_bound``).
- A string compares with the rows whose value is a JSON string, by code point (``COLLATE "C"``),
  whatever the database's collation.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Numeric,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.expression import ColumnElement as Clause

from memos_server.filters import All, Any_, Compare, Filter
from memos_server.storage.models import Memory
from memos_server.times import EARLIEST

_COLUMNS: dict[str, Any] = {
    "agent_id": Memory.agent_id,
    "app_id": Memory.app_id,
    "conversation_id": Memory.conversation_id,
    "memory_type": Memory.memory_type,
    "create_time": Memory.create_time,
    "update_time": Memory.update_time,
}

# What Postgres ``numeric`` holds: digits before the decimal point, digits after it.
NUMERIC_INTEGER_DIGITS = 131072
NUMERIC_SCALE = 16383
_STEP = Decimal((0, (1,), -NUMERIC_SCALE))  # the smallest step between storable numbers


def _ordered(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    comparisons: dict[str, ColumnElement[bool]] = {
        "eq": column == value,
        "gt": column > value,
        "gte": column >= value,
        "lt": column < value,
        "lte": column <= value,
    }
    return comparisons[op]


_MILLISECOND = timedelta(milliseconds=1)


def _millisecond_start(moment: datetime) -> datetime:
    """The start of the millisecond ``moment`` falls in (as ``epoch_ms`` floors it)."""
    return moment - (moment - EARLIEST) % _MILLISECOND


def shown_time(column: ColumnElement[Any], op: str, moment: datetime) -> ColumnElement[bool]:
    """``column op moment`` (gte, gt, lte or lt: the grammar has no equality for times) for a
    time the API shows in whole milliseconds (``epoch_ms``): a stored time matches as the
    millisecond it is shown as, so a memory matches ``lte`` of its own ``create_time`` and not
    ``gt`` of it, though Postgres keeps microseconds. Bounds on the column itself (no function
    of it), so an index on it still serves."""
    start = _millisecond_start(moment)
    try:
        after = start + _MILLISECOND  # the next millisecond's start
    except OverflowError:  # the last millisecond Python can hold: nothing is shown after it
        after = None
    if op == "lte":  # shown <= moment: stored before the next millisecond
        return true() if after is None else column < after
    if op == "gt":
        return false() if after is None else column >= after
    # lt, gte: shown < moment (or >=): the first millisecond at or after it
    first = start if start == moment else after
    if first is None:
        return true() if op == "lt" else false()
    return column < first if op == "lt" else column >= first


def _trimmed(number: Decimal) -> Decimal:
    """The same number without trailing zeros (``1.500`` → ``1.5``, ``0E-30000`` → ``0``)."""
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite: memos_server.filters refuses the rest
    significant = "".join(map(str, digits)).rstrip("0")
    if not significant:
        return Decimal(0)
    exponent += len(digits) - len(significant)
    return Decimal((sign, tuple(map(int, significant)), exponent))


def storable(number: Decimal) -> bool:
    """Whether Postgres ``numeric`` (and so a ``jsonb`` number) can hold this number exactly."""
    _, digits, exponent = _trimmed(number).as_tuple()
    assert isinstance(exponent, int)
    return len(digits) + exponent <= NUMERIC_INTEGER_DIGITS and -exponent <= NUMERIC_SCALE


def _round(number: Decimal, up: bool) -> Decimal:
    """The storable step (a multiple of ``_STEP``) next to ``number``, below or above it."""
    if number.adjusted() < -NUMERIC_SCALE:  # closer to 0 than one step: 0 or one step away
        toward = number > 0 if up else number < 0
        return _STEP.copy_sign(number) if toward else Decimal(0)
    # Shifted by hand: Decimal arithmetic would round to the context's precision.
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    steps = Decimal((sign, digits, exponent + NUMERIC_SCALE))
    whole = steps.to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    sign, digits, exponent = whole.as_tuple()
    assert isinstance(exponent, int)
    return Decimal((sign, digits, exponent - NUMERIC_SCALE))


Bound = tuple[str, Decimal] | bool


def _bound(op: str, number: Decimal) -> Bound:
    """A comparison with a storable number that answers as ``<stored> op number`` does for
    every storable number, or True (every number passes) / False (none does)."""
    if storable(number):
        return op, _trimmed(number)
    if number.adjusted() >= NUMERIC_INTEGER_DIGITS:  # beyond every storable number
        if op == "eq":
            return False
        return (op in ("lt", "lte")) == (number > 0)
    # Between two storable steps: equal to none of them, above the one below it.
    if op == "eq":
        return False
    up = op in ("gt", "gte")
    step = _round(number, up=up)
    # A step just beyond the largest storable number: none is beyond it.
    return ("gte" if up else "lte", _trimmed(step)) if storable(step) else False


def _number_text(number: Decimal) -> ColumnElement[Any]:
    # Passed as text and cast by Postgres: exact at any precision, whatever the driver does.
    return cast(literal(str(number), String), Numeric)


def _json_text(value: Any) -> str | None:
    """The value as JSON with its numbers exact, or None if one cannot be stored (nothing
    stored can equal it)."""
    if isinstance(value, Decimal):
        return str(_trimmed(value)) if storable(value) else None
    if isinstance(value, list):
        items = [_json_text(item) for item in value]
        return None if None in items else "[" + ",".join(map(str, items)) + "]"
    if isinstance(value, dict):
        pairs = [(json.dumps(key), _json_text(item)) for key, item in value.items()]
        if any(text is None for _, text in pairs):
            return None
        return "{" + ",".join(f"{key}:{text}" for key, text in pairs) + "}"
    return json.dumps(value)


def _contains(key: str, value: Any) -> ColumnElement[bool]:
    """``info @> {key: value}``: GIN-indexed equality (and membership, with a list)."""
    text = _json_text({key: value})
    if text is None:
        return false()
    return Memory.info.contains(cast(literal(text, String), JSONB))


def _typed(key: str) -> ColumnElement[Any]:
    return func.jsonb_typeof(Memory.info[key])


def _numeric(key: str, op: str, number: Decimal) -> ColumnElement[bool]:
    is_number = _typed(key) == "number"
    bound = _bound(op, number)
    if bound is True:
        return is_number
    if bound is False:
        return false()
    op, number = bound
    value = cast(Memory.info[key], Numeric)
    # CASE, not AND: Postgres may evaluate AND's operands in any order.
    return case((is_number, _ordered(value, op, _number_text(number))), else_=false())


def _info(condition: Compare) -> ColumnElement[bool]:
    key, op, value = condition.field, condition.op, condition.value
    if op == "eq" and isinstance(value, dict):
        # Containment alone would match any object holding these pairs (and ``{}`` every
        # object): the index narrows, equality decides.
        text = _json_text(value)
        if text is None:
            return false()
        return and_(_contains(key, value), Memory.info[key] == cast(literal(text, String), JSONB))
    if op == "eq":
        return _contains(key, value)
    if op == "contains":
        return _contains(key, [value])
    if isinstance(value, Decimal):
        return _numeric(key, op, value)
    text = Memory.info[key].astext.collate("C")
    return and_(_typed(key) == "string", _ordered(text, op, str(value)))


def _column(condition: Compare) -> ColumnElement[bool]:
    column = _COLUMNS[condition.field]
    if condition.kind == "time":
        assert isinstance(condition.value, datetime)
        return shown_time(column, condition.op, condition.value)
    if condition.kind == "text" and condition.op != "eq":
        column = column.collate("C")  # code point order, as for info strings
    return _ordered(column, condition.op, condition.value)


def _compare(condition: Compare) -> ColumnElement[bool]:
    if condition.kind == "tags":
        return Memory.tags.contains([condition.value])
    if condition.kind == "info":
        return _info(condition)
    return _column(condition)


def to_sql(node: Filter) -> Clause[bool]:
    if isinstance(node, Compare):
        return _compare(node)
    parts = [to_sql(part) for part in node.parts]
    if isinstance(node, All):
        return and_(*parts)
    assert isinstance(node, Any_)
    return or_(*parts) if parts else false()
