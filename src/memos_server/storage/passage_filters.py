"""Turn the ``knowledgebase`` part of a search's filter (``memos_server.filters``) into a WHERE
clause on ``knowledge_passages``: ids and the heading on the passage's own columns, the file name
through its document (a subquery on ``knowledge_files``), the page as a number, ``create_time``
as the passage's ``created_at``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select

from memos_server.filters import All, Compare, Filter
from memos_server.storage.filters import shown_time
from memos_server.storage.models import KnowledgeFile, KnowledgePassage

_COLUMNS: dict[str, Any] = {
    "knowledgebase_id": KnowledgePassage.knowledgebase_id,
    "file_id": KnowledgePassage.file_id,
    "heading": KnowledgePassage.heading,
    "page": KnowledgePassage.page,
    "create_time": KnowledgePassage.created_at,
}


def _compare(node: Compare) -> ColumnElement[bool]:
    if node.field == "file_name":
        named = select(KnowledgeFile.id).where(KnowledgeFile.name == node.value)
        return KnowledgePassage.file_id.in_(named)
    column = _COLUMNS[node.field]
    if node.field == "create_time":
        assert isinstance(node.value, datetime)
        return shown_time(column, node.op, node.value)
    value = int(node.value) if node.field == "page" else node.value
    if node.field == "page" and value not in _PAGES:
        return _beyond_every_page(column, node.op, value)
    comparisons: dict[str, ColumnElement[bool]] = {
        "eq": column == value,
        "gt": column > value,
        "gte": column >= value,
        "lt": column < value,
        "lte": column <= value,
    }
    return comparisons[node.op]


# ``page`` is an ``integer`` column: a whole number past its range is not bound (Postgres would
# refuse it), it is answered: beyond every page or below every page.
_PAGES = range(-(2**31), 2**31)


def _beyond_every_page(column: Any, op: str, page: int) -> ColumnElement[bool]:
    """``page op <page>`` for a whole number past the column's range: every paged passage is
    below it (or above it), none equals it."""
    every_paged = op in ("lt", "lte") if page > 0 else op in ("gt", "gte")
    return column.is_not(None) if every_paged else false()


def passage_sql(node: Filter) -> ColumnElement[bool]:
    """The clause on ``knowledge_passages`` for a parsed knowledgebase filter."""
    if isinstance(node, Compare):
        return _compare(node)
    parts = [passage_sql(part) for part in node.parts]
    return and_(*parts) if isinstance(node, All) else or_(*parts)
