"""Memories and their vector search."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from memos_server.services.filters import Filter
from memos_server.storage.filters import to_sql
from memos_server.storage.models import Memory, MemoryHistory


@dataclass(frozen=True)
class Scope:
    """Whose memories a query reads: always one project and one user, maybe narrowed further."""

    project_id: uuid.UUID
    user_id: str
    agent_id: str | None = None
    where: Filter | None = None

    def conditions(self, kind: str) -> list[ColumnElement[bool]]:
        found = [
            Memory.project_id == self.project_id,
            Memory.user_id == self.user_id,
            Memory.kind == kind,
            Memory.status == "activated",
        ]
        if self.agent_id is not None:
            found.append(Memory.agent_id == self.agent_id)
        if self.where is not None:
            found.append(to_sql(self.where))
        return found


@dataclass(frozen=True)
class LexicalHits:
    """Memories matching any query word, with their tokens, and the statistics BM25 needs."""

    hits: list[tuple[Memory, list[str]]]
    documents: int  # the user's memories of this kind in scope
    mean_length: float  # the matches' mean number of distinct tokens


class MemoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_all(self, memories: Sequence[Memory], history: Sequence[MemoryHistory]) -> None:
        self.session.add_all(memories)
        self.session.add_all(history)
        await self.session.flush()

    async def nearest(
        self,
        scope: Scope,
        kind: str,
        vector: Sequence[float],
        limit: int,
        *,
        mode: str | None = None,
    ) -> list[tuple[Memory, float]]:
        """The user's active memories of one kind, closest first, with cosine similarity.

        An exact scan of one user's rows through ``ix_memories_user_scan``: exact, and fast up to
        tens of thousands of memories per user. The vector itself is not read back.
        """
        if limit <= 0:
            return []
        distance = Memory.embedding.cosine_distance(vector).label("distance")
        query = (
            select(Memory, distance)
            .options(defer(Memory.embedding))
            .where(*scope.conditions(kind))
            .order_by(distance)
            .limit(limit)
        )
        if mode is not None:
            query = query.where(Memory.mode == mode)
        result = await self.session.execute(query)
        return [(memory, 1.0 - float(dist)) for memory, dist in result.all()]

    async def lexical(
        self, scope: Scope, kind: str, tokens: Sequence[str], limit: int
    ) -> LexicalHits:
        """The user's memories holding any of ``tokens`` (OR), best ``ts_rank`` first, and how
        many memories of this kind are in scope at all (0: no need to look further).

        The tokens come from ``text_index`` (letters, digits, CJK), so they are safe inside a
        quoted tsquery lexeme.
        """
        conditions = scope.conditions(kind)
        counted = await self.session.execute(select(func.count()).where(*conditions))
        documents = int(counted.scalar_one())
        if not tokens or limit <= 0 or not documents:
            return LexicalHits([], documents, 1.0)
        query = func.to_tsquery("simple", " | ".join(f"'{token}'" for token in tokens))
        rows = await self.session.execute(
            select(Memory)
            .options(defer(Memory.embedding))
            .where(*conditions, Memory.tsv.op("@@")(query))
            .order_by(func.ts_rank(Memory.tsv, query).desc())
            .limit(limit)
        )
        hits = [(memory, memory.search_text.split()) for memory in rows.scalars()]
        # BM25's length normalisation against the matches' mean: one scan less per query.
        lengths = [len(set(words)) for _, words in hits]
        mean_length = sum(lengths) / len(lengths) if lengths else 1.0
        return LexicalHits(hits, documents, mean_length or 1.0)

    async def get_active(self, project_id: uuid.UUID, memory_id: uuid.UUID) -> Memory | None:
        result = await self.session.execute(
            select(Memory).where(
                Memory.id == memory_id,
                Memory.project_id == project_id,
                Memory.status == "activated",
            )
        )
        return result.scalar_one_or_none()

    async def active_fast_for_messages(
        self, project_id: uuid.UUID, message_ids: Sequence[int]
    ) -> list[Memory]:
        """The fast-mode memories made from any of these messages that are still active."""
        result = await self.session.execute(
            select(Memory)
            .options(defer(Memory.embedding))
            .where(
                Memory.project_id == project_id,
                Memory.mode == "fast",
                Memory.status == "activated",
                Memory.source_message_ids.overlap(list(message_ids)),
            )
        )
        return list(result.scalars())

    async def archive(self, memory_ids: Sequence[uuid.UUID]) -> None:
        if memory_ids:
            await self.session.execute(
                update(Memory)
                .where(Memory.id.in_(list(memory_ids)))
                .values(status="archived", update_time=func.now())
            )
