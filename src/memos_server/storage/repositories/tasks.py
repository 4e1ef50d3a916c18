"""Tasks: one per add, reported by /get/status."""

from __future__ import annotations

import uuid

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
