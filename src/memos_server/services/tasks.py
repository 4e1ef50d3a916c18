"""get/status: what became of an add."""

from __future__ import annotations

import asyncio
import time
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.errors import NotFound
from memos_server.storage.database import Database
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


POLL_S = 0.1


async def wait_for_task(database: Database, task_id: uuid.UUID, timeout_s: float) -> Task:
    """The task once it is no longer running, or as it is when ``timeout_s`` runs out.

    Polls the database, so it works whichever process (this one or a worker elsewhere) runs the
    job.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        async with database.session() as session:
            task = await TaskRepository(session).get_by_id(task_id)
        assert task is not None
        if task.status != "running" or time.monotonic() >= deadline:
            return task
        await asyncio.sleep(POLL_S)
