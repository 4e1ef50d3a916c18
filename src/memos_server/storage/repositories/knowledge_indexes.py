"""Per-knowledge-base HNSW indexes: partial indexes over one base's passages.

An exact scan of a base's vectors costs about 3 ms per thousand passages on this project's
reference machine (2 cores); a base of tens of thousands would make every search that names it
slow. A base that grows past ``knowledge.hnsw_min_passages`` gets an approximate index of its own,
partial on its id (a global index filtered by base would lose neighbours: pgvector 0.6 has no
iterative scans). As for per-user memory indexes, the column has no fixed size, so the index is on
``embedding::vector(<dimension>)`` and the search says the same.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

PREFIX = "ix_kbhnsw_"


def base_index_name(base_id: uuid.UUID) -> str:
    return PREFIX + base_id.hex


def base_of_index(name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(hex=name.removeprefix(PREFIX)) if name.startswith(PREFIX) else None
    except ValueError:
        return None


class KnowledgeIndexRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def indexed_bases(self, *, valid: bool = True) -> set[uuid.UUID]:
        """Bases with an index (built and usable ones only, unless ``valid`` is false)."""
        result = await self.session.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
                "WHERE c.relname LIKE :prefix AND (i.indisvalid OR NOT :valid)"
            ),
            {"prefix": PREFIX + "%", "valid": valid},
        )
        return {base for (name,) in result.all() if (base := base_of_index(name)) is not None}

    async def large_bases(self, min_passages: int) -> set[uuid.UUID]:
        """Bases with at least ``min_passages`` passages."""
        result = await self.session.execute(
            text(
                "SELECT knowledgebase_id FROM knowledge_passages "
                "GROUP BY knowledgebase_id HAVING count(*) >= :n"
            ),
            {"n": min_passages},
        )
        return {base for (base,) in result.all()}


async def create_base_index(
    connection: AsyncConnection, base_id: uuid.UUID, dimension: int, m: int, ef_construction: int
) -> None:
    """Build one base's index without locking writes. ``connection`` must be in autocommit."""
    name = base_index_name(base_id)
    await connection.execute(text(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"'))
    await connection.execute(
        text(
            f'CREATE INDEX CONCURRENTLY "{name}" ON knowledge_passages USING hnsw '
            f"((embedding::vector({int(dimension)})) vector_cosine_ops) "
            f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) "
            f"WHERE knowledgebase_id = '{base_id}'::uuid"
        )
    )


async def drop_base_index(connection: AsyncConnection, base_id: uuid.UUID) -> None:
    """``connection`` must be in autocommit."""
    await connection.execute(
        text(f'DROP INDEX CONCURRENTLY IF EXISTS "{base_index_name(base_id)}"')
    )
