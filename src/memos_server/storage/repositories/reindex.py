"""The SQL of a reindex: fill ``embedding_next`` of memories and knowledge-base passages in
batches, then swap them in.

Batches walk the primary key (``id > after``), so each costs an index range however large the
table; a sweep that found rows is followed by another, which picks up memories written or
edited meanwhile (the trigger of migration 0009 clears ``embedding_next`` when a memory's text
and vector change). A vector is stored only if the memory still has the text it was made from.
Passages never change once written (a document is deleted or uploaded again): theirs is stored
as made.
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
_passages = cast(Table, KnowledgePassage.__table__)


@dataclass(frozen=True)
class Pending:
    """A memory still to embed: its id and the text its vector is made from."""

    id: uuid.UUID
    text: str


@dataclass(frozen=True)
class PendingPassage:
    """A passage still to embed: its id, heading and text."""

    id: uuid.UUID
    heading: str
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

    async def passage_counts(self) -> tuple[int, int]:
        """Passages with a new vector, and passages in all."""
        result = await self.session.execute(
            select(func.count(KnowledgePassage.embedding_next), func.count()).select_from(
                KnowledgePassage
            )
        )
        done, total = result.one()
        return int(done), int(total)

    async def pending_passages(self, after: uuid.UUID | None, limit: int) -> list[PendingPassage]:
        """The next passages without a new vector, in id order after ``after``."""
        query = (
            select(KnowledgePassage.id, KnowledgePassage.heading, KnowledgePassage.text)
            .where(KnowledgePassage.embedding_next.is_(None))
            .order_by(KnowledgePassage.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(KnowledgePassage.id > after)
        result = await self.session.execute(query)
        return [PendingPassage(id_, heading, text_) for id_, heading, text_ in result.all()]

    async def store_passages(
        self, rows: Sequence[PendingPassage], vectors: Sequence[Sequence[float]]
    ) -> int:
        """Store new vectors of passages still there without one; how many were."""
        result = await self.session.execute(
            text(
                "UPDATE knowledge_passages p SET embedding_next = CAST(u.v AS vector) "
                "FROM unnest(CAST(:ids AS uuid[]), CAST(:vectors AS text[])) AS u(id, v) "
                "WHERE p.id = u.id AND p.embedding_next IS NULL"
            ),
            {
                "ids": [row.id for row in rows],
                "vectors": ["[" + ",".join(map(repr, map(float, v))) + "]" for v in vectors],
            },
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

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
        for table in (_memories, _passages):
            await self.session.execute(
                update(table).where(table.c.embedding_next.is_not(None)).values(embedding_next=None)
            )

    async def lock_writes(self) -> None:
        """Until the transaction ends, nobody writes memories or passages; searches still read
        them."""
        await self.session.execute(text("SET LOCAL statement_timeout = 0"))
        await self.session.execute(text("LOCK TABLE memories IN EXCLUSIVE MODE"))
        await self.session.execute(text("LOCK TABLE knowledge_passages IN EXCLUSIVE MODE"))

    async def drop_dimension_check(self) -> None:
        await self.session.execute(
            text("ALTER TABLE memories DROP CONSTRAINT IF EXISTS ck_memories_embedding_dim")
        )

    async def swap(self) -> tuple[int, int]:
        """Every memory's and passage's new vector becomes its vector; how many of each."""
        swapped = []
        for table in (_memories, _passages):
            result = await self.session.execute(
                update(table).values(embedding=table.c.embedding_next, embedding_next=None)
            )
            swapped.append(int(result.rowcount))  # type: ignore[attr-defined]
        return swapped[0], swapped[1]
