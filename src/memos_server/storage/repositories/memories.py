"""Memories and their vector search."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from memos_server.storage.models import Memory, MemoryHistory


@dataclass(frozen=True)
class Scope:
    """Whose memories a query reads: always one project and one user."""

    project_id: uuid.UUID
    user_id: str
    agent_id: str | None = None


class MemoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_all(self, memories: Sequence[Memory], history: Sequence[MemoryHistory]) -> None:
        self.session.add_all(memories)
        self.session.add_all(history)
        await self.session.flush()

    async def nearest(
        self, scope: Scope, kind: str, vector: Sequence[float], limit: int
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
            .where(
                Memory.project_id == scope.project_id,
                Memory.user_id == scope.user_id,
                Memory.kind == kind,
                Memory.status == "activated",
            )
            .order_by(distance)
            .limit(limit)
        )
        if scope.agent_id is not None:
            query = query.where(Memory.agent_id == scope.agent_id)
        result = await self.session.execute(query)
        return [(memory, 1.0 - float(dist)) for memory, dist in result.all()]
