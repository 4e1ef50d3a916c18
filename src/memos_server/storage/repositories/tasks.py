"""Tasks: one per add, reported by /get/status."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.models import Task


class TaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, task: Task) -> Task:
        self.session.add(task)
        await self.session.flush()
        return task

    async def lock_for_add(self, project_id: uuid.UUID, key: str) -> None:
        """Serialise adds with the same key until this transaction ends."""
        await self.session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(f"{project_id}:{key}", 0)))
        )

    async def find_repeat(
        self,
        project_id: uuid.UUID,
        idempotency_key: str | None,
        fingerprint: str,
        window_s: float,
    ) -> Task | None:
        """The earlier add this one repeats: same key, or (no key) same content lately."""
        if idempotency_key is not None:
            query = select(Task).where(
                Task.project_id == project_id, Task.idempotency_key == idempotency_key
            )
        elif window_s > 0:
            query = (
                select(Task)
                .where(
                    Task.project_id == project_id,
                    Task.fingerprint == fingerprint,
                    Task.created_at > func.now() - timedelta(seconds=window_s),
                )
                .order_by(Task.created_at)
                .limit(1)
            )
        else:
            return None
        result = await self.session.execute(query)
        return result.scalar_one_or_none()

    async def get_by_id(self, task_id: uuid.UUID) -> Task | None:
        return await self.session.get(Task, task_id)

    async def finish(
        self,
        task_id: uuid.UUID,
        *,
        status: str,
        error: str | None,
        llm_calls: int,
        prompt_tokens: int,
        completion_tokens: int,
    ) -> Task:
        result = await self.session.execute(
            update(Task)
            .where(Task.id == task_id)
            .values(
                status=status,
                error=error,
                llm_calls=Task.llm_calls + llm_calls,
                prompt_tokens=Task.prompt_tokens + prompt_tokens,
                completion_tokens=Task.completion_tokens + completion_tokens,
                updated_at=func.now(),
            )
            .returning(Task)
        )
        return result.scalar_one()

    async def get(self, project_id: uuid.UUID, task_id: uuid.UUID) -> Task | None:
        result = await self.session.execute(
            select(Task).where(Task.id == task_id, Task.project_id == project_id)
        )
        return result.scalar_one_or_none()
