"""get/status: what became of an add."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.errors import NotFound
from memos_server.storage.models import Task
from memos_server.storage.repositories.tasks import TaskRepository


async def get_task(session: AsyncSession, project_id: uuid.UUID, task_id: str) -> Task:
    try:
        parsed = uuid.UUID(task_id)
    except ValueError:
        raise NotFound(f"task {task_id!r} not found") from None
    task = await TaskRepository(session).get(project_id, parsed)
    if task is None:
        raise NotFound(f"task {task_id!r} not found")
    return task
