"""Retention: the expired memories a sweep purges, a batch at a time, and projects' TTLs.

A batch is picked through ``ix_memories_expires_at`` (a partial index of memories that have an
expiry, soonest first) with ``FOR UPDATE SKIP LOCKED``: a memory another transaction is changing
waits for the next batch instead of stalling this one. Its history goes with it, as with
delete/message: a DELETE row would quote the content the expiry was meant to remove.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.models import Memory, MemoryHistory, Project


@dataclass(frozen=True)
class Expired:
    """One purged memory: whose it was and what kind, never what it said."""

    id: uuid.UUID
    project_id: uuid.UUID
    user_id: str
    kind: str
    mode: str


class RetentionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def purge_expired(self, limit: int) -> tuple[list[Expired], list[uuid.UUID]]:
        """Delete up to ``limit`` expired memories (soonest expired first) and their history;
        the memories deleted, and the memory each deleted history row was of."""
        picked = await self.session.execute(
            select(Memory.id, Memory.project_id, Memory.user_id, Memory.kind, Memory.mode)
            .where(Memory.expires_at.is_not(None), Memory.expires_at <= func.now())
            .order_by(Memory.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        expired = [Expired(*row) for row in picked.all()]
        if not expired:
            return [], []
        ids = [e.id for e in expired]
        history = await self.session.scalars(
            delete(MemoryHistory)
            .where(MemoryHistory.memory_id.in_(ids))
            .returning(MemoryHistory.memory_id)
        )
        of = list(history.all())
        await self.session.execute(delete(Memory).where(Memory.id.in_(ids)))
        return expired, of

    async def waiting(self) -> int:
        """How many expired memories the sweep has still to purge."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(Memory)
            .where(Memory.expires_at.is_not(None), Memory.expires_at <= func.now())
        )
        return int(count or 0)

    async def set_ttl(self, name: str, days: int | None) -> Project | None:
        """Give the project named ``name`` its TTL (None: the service's default); None if there
        is no such project."""
        result = await self.session.execute(
            update(Project).where(Project.name == name).values(ttl_days=days).returning(Project)
        )
        return result.scalar_one_or_none()


def by_owner(expired: Sequence[Expired]) -> dict[tuple[uuid.UUID, str], list[Expired]]:
    """The purged memories grouped by project and user (one deletion record each)."""
    found: dict[tuple[uuid.UUID, str], list[Expired]] = {}
    for memory in expired:
        found.setdefault((memory.project_id, memory.user_id), []).append(memory)
    return found
