"""The SQL of a reindex: fill ``memories.embedding_next`` in batches, then swap it in.

Batches walk the primary key (``id > after``), so each costs an index range however large the
table; a sweep that found rows is followed by another, which picks up memories written or
edited meanwhile (the trigger of migration 0009 clears ``embedding_next`` when a memory's text
and vector change). A vector is stored only if the memory still has the text it was made from.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.models import KnowledgePassage, Memory

_memories = cast(Table, Memory.__table__)


@dataclass(frozen=True)
class Pending:
    """A memory still to embed: its id and the text its vector is made from."""

    id: uuid.UUID
    text: str


class ReindexRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def counts(self) -> tuple[int, int]:
        """Memories with a new vector, and memories in all."""
        result = await self.session.execute(
            select(func.count(Memory.embedding_next), func.count()).select_from(Memory)
        )
        done, total = result.one()
        return int(done), int(total)

    async def knowledge_passages(self) -> int:
        """Passages of every project's knowledge bases (reindex does not re-embed them)."""
        return int(
            await self.session.scalar(select(func.count()).select_from(KnowledgePassage)) or 0
        )

    async def pending(self, after: uuid.UUID | None, limit: int) -> list[Pending]:
        """The next memories without a new vector, in id order after ``after``."""
        query = (
            select(Memory.id, Memory.memory_value)
            .where(Memory.embedding_next.is_(None))
            .order_by(Memory.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(Memory.id > after)
        result = await self.session.execute(query)
        return [Pending(id_, value) for id_, value in result.all()]

    async def store(self, rows: Sequence[Pending], vectors: Sequence[Sequence[float]]) -> int:
        """Store new vectors, each only if its memory still has that text; how many were."""
        statement = (
            update(_memories)
            .where(
                _memories.c.id == bindparam("b_id"),
                _memories.c.memory_value == bindparam("b_text"),
                _memories.c.embedding_next.is_(None),
            )
            .values(embedding_next=bindparam("b_vector"))
        )
        stored = 0
        for row, vector in zip(rows, vectors, strict=True):
            # One statement per row: executemany does not report the rows each one changed.
            result = await self.session.execute(
                statement, {"b_id": row.id, "b_text": row.text, "b_vector": list(vector)}
            )
            stored += result.rowcount  # type: ignore[attr-defined]
        return stored

    async def forget(self) -> None:
        """Drop every new vector (a reindex to another model was begun and abandoned)."""
        await self.session.execute(
            update(_memories)
            .where(_memories.c.embedding_next.is_not(None))
            .values(embedding_next=None)
        )

    async def lock_writes(self) -> None:
        """Until the transaction ends, nobody writes memories; searches still read them."""
        await self.session.execute(text("SET LOCAL statement_timeout = 0"))
        await self.session.execute(text("LOCK TABLE memories IN EXCLUSIVE MODE"))

    async def drop_dimension_check(self) -> None:
        await self.session.execute(
            text("ALTER TABLE memories DROP CONSTRAINT IF EXISTS ck_memories_embedding_dim")
        )

    async def swap(self) -> int:
        """Every memory's new vector becomes its vector; how many memories."""
        result = await self.session.execute(
            update(_memories).values(embedding=_memories.c.embedding_next, embedding_next=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
