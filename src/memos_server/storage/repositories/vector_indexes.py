"""Per-user HNSW indexes: partial indexes over one user's active memories of one kind.

The exact scan of one user's vectors is fast up to tens of thousands of memories; beyond that a
user can get an approximate index of their own. It is a partial index, so it holds that user's
rows only and a search finds its neighbours among them (a global HNSW index filtered by user
would lose most of them with pgvector 0.6, which has no iterative scans). The column has no fixed
size, so the index is on ``embedding::vector(<dimension>)`` and the search must say the same.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

PREFIX = "ix_memhnsw_"


@dataclass(frozen=True)
class UserKind:
    project_id: uuid.UUID
    user_id: str
    kind: str

    @property
    def index_name(self) -> str:
        digest = hashlib.sha256(f"{self.project_id}\x00{self.user_id}\x00{self.kind}".encode())
        return PREFIX + digest.hexdigest()[:24]


class VectorIndexRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def valid_names(self) -> set[str]:
        """Names of the per-user indexes that are built and usable."""
        result = await self.session.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
                "WHERE c.relname LIKE :prefix AND i.indisvalid"
            ),
            {"prefix": PREFIX + "%"},
        )
        return {name for (name,) in result.all()}

    async def all_names(self) -> set[str]:
        result = await self.session.execute(
            text("SELECT relname FROM pg_class WHERE relkind = 'i' AND relname LIKE :prefix"),
            {"prefix": PREFIX + "%"},
        )
        return {name for (name,) in result.all()}

    async def heavy(self, min_memories: int) -> list[UserKind]:
        """Users with at least ``min_memories`` active, unexpired memories of a kind."""
        result = await self.session.execute(
            text(
                "SELECT project_id, user_id, kind FROM memories WHERE status = 'activated' "
                "AND (expires_at IS NULL OR expires_at > now()) "
                "GROUP BY project_id, user_id, kind HAVING count(*) >= :n"
            ),
            {"n": min_memories},
        )
        return [UserKind(p, u, k) for p, u, k in result.all()]


def sql_literal(value: str) -> str:
    """A quoted SQL string literal (DDL takes no parameters). The E'' form escapes the same way
    whatever ``standard_conforming_strings`` says; NUL never gets this far (requests refuse it)."""
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


@asynccontextmanager
async def without_statement_timeout(connection: AsyncConnection) -> AsyncIterator[None]:
    """No statement timeout on this (autocommit) connection meanwhile: an index build takes as
    long as it takes. Back to the connection's own setting after, before it returns to the pool."""
    await connection.execute(text("SET statement_timeout = 0"))
    try:
        yield
    finally:
        await connection.execute(text("RESET statement_timeout"))


async def create_index(
    connection: AsyncConnection, target: UserKind, dimension: int, m: int, ef_construction: int
) -> None:
    """Build one user's index without locking writes. ``connection`` must be in autocommit."""
    await connection.execute(text(f'DROP INDEX CONCURRENTLY IF EXISTS "{target.index_name}"'))
    predicate = (
        f"project_id = {sql_literal(str(target.project_id))}::uuid "
        f"AND user_id = {sql_literal(target.user_id)} "
        f"AND kind = {sql_literal(target.kind)} AND status = 'activated'"
    )
    await connection.execute(
        text(
            f'CREATE INDEX CONCURRENTLY "{target.index_name}" ON memories USING hnsw '
            f"((embedding::vector({int(dimension)})) vector_cosine_ops) "
            f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) WHERE {predicate}"
        )
    )


async def drop_index(connection: AsyncConnection, name: str) -> None:
    if not name.startswith(PREFIX) or not name[len(PREFIX) :].isalnum():
        raise ValueError(f"not a per-user index: {name!r}")
    await connection.execute(text(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"'))
