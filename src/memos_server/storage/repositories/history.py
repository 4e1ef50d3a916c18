"""Memory history: one row per change to a memory (ADD, UPDATE, ARCHIVE, DELETE)."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.models import Memory, MemoryHistory


class HistoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_memory(
        self, project_id: uuid.UUID, memory_id: uuid.UUID, limit: int
    ) -> tuple[list[MemoryHistory], int]:
        """The project's newest ``limit`` history rows of one memory, oldest first, and how
        many it has (a deleted memory's too; an expired one's never: it is gone from the moment
        it expires, its history with it)."""
        expired = exists().where(
            Memory.id == memory_id, Memory.project_id == project_id, Memory.expires_at <= func.now()
        )
        whose = (
            MemoryHistory.memory_id == memory_id,
            MemoryHistory.project_id == project_id,
            ~expired,
        )
        rows = await self.session.execute(
            select(MemoryHistory).where(*whose).order_by(MemoryHistory.id.desc()).limit(limit)
        )
        newest = list(rows.scalars())
        total = len(newest)
        if total == limit:
            total = int(
                (await self.session.execute(select(func.count()).where(*whose))).scalar_one()
            )
        return newest[::-1], total
