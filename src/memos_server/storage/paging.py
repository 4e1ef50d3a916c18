"""Pages of rows: a client's page number as the OFFSET Postgres takes."""

from __future__ import annotations

# OFFSET is a bigint: a page far enough out (page 2**62 of 10) would overflow it. Past this many
# rows there is none in any table, so the page is empty either way.
LAST_OFFSET = 2**62


def offset_of(page: int, size: int) -> int:
    """The rows before ``page`` (counted from 1) of ``size`` rows each."""
    return min((page - 1) * size, LAST_OFFSET)
