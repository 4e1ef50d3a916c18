"""Turn a parsed filter (``services.filters``) into a WHERE clause on ``memories``.

Real columns for every named field; ``info`` keys through JSONB containment (GIN-indexed) for
equality and membership, and through ``info->>key`` for comparisons.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Numeric, and_, cast, false, or_
from sqlalchemy.sql.expression import ColumnElement as Clause

from memos_server.services.filters import All, Any_, Compare, Filter
from memos_server.storage.models import Memory

_COLUMNS: dict[str, Any] = {
    "agent_id": Memory.agent_id,
    "app_id": Memory.app_id,
    "conversation_id": Memory.conversation_id,
    "memory_type": Memory.memory_type,
    "create_time": Memory.create_time,
    "update_time": Memory.update_time,
}


def _ordered(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    comparisons: dict[str, ColumnElement[bool]] = {
        "eq": column == value,
        "gt": column > value,
        "gte": column >= value,
        "lt": column < value,
        "lte": column <= value,
    }
    return comparisons[op]


def _info(condition: Compare) -> ColumnElement[bool]:
    key, op, value = condition.field, condition.op, condition.value
    if op == "eq":
        return Memory.info.contains({key: value})
    if op == "contains":
        return Memory.info.contains({key: [value]})
    text = Memory.info[key].astext
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _ordered(text, op, str(value))
    # Only rows whose value is a number take part in a numeric comparison.
    numeric = Memory.info[key].astext.regexp_match(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$")
    return and_(numeric, _ordered(cast(text, Numeric), op, value))


def _compare(condition: Compare) -> ColumnElement[bool]:
    if condition.kind == "tags":
        return Memory.tags.contains([condition.value])
    if condition.kind == "info":
        return _info(condition)
    return _ordered(_COLUMNS[condition.field], condition.op, condition.value)


def to_sql(node: Filter) -> Clause[bool]:
    if isinstance(node, Compare):
        return _compare(node)
    parts = [to_sql(part) for part in node.parts]
    if isinstance(node, All):
        return and_(*parts)
    assert isinstance(node, Any_)
    return or_(*parts) if parts else false()
