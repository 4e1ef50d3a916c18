"""How common each word is among the passages, read from Postgres' own statistics.

``ANALYZE`` (run by autovacuum as a table grows) keeps, for a ``tsvector`` column, its most
common words and the share of rows holding each (``pg_stats.most_common_elems`` and
``most_common_elem_freqs``). A word in most passages tells a search almost nothing (its BM25
weight is near zero), yet matching it means reading and ranking most of the table; the
full-text channel over passages leaves such words out. The statistics are read at most every
``CACHE_S`` seconds per process; before the first ``ANALYZE`` there are none, and no word is left
out.
"""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

CACHE_S = 300.0

_cache: dict[tuple[str, str], tuple[float, dict[str, float]]] = {}


async def word_shares(session: AsyncSession, table: str, column: str) -> dict[str, float]:
    """The most common words of ``table.column`` (a tsvector) and the share of rows with each."""
    key = (table, column)
    cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < CACHE_S:
        return cached[1]
    row = (
        await session.execute(
            text(
                "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
                "WHERE schemaname = current_schema() AND tablename = :t AND attname = :c"
            ),
            {"t": table, "c": column},
        )
    ).first()
    shares: dict[str, float] = {}
    if row is not None and row[0] is not None and row[1] is not None:
        # The frequencies array ends with three summary numbers beyond the words' own.
        shares = {word: float(share) for word, share in zip(row[0], row[1], strict=False)}
    _cache[key] = (time.monotonic(), shares)
    return shares
