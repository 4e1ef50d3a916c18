"""Tasks: one per add-like request (add/message, add/feedback), and get/status on them."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.errors import NotFound
from memos_server.storage.database import Database
from memos_server.storage.models import Task
from memos_server.storage.repositories.tasks import TaskRepository


@dataclass(frozen=True)
class Added:
    task: Task
    created: bool  # False: a repeat of an earlier request, nothing stored


async def open_task(
    session: AsyncSession,
    project_id: uuid.UUID,
    *,
    kind: str,
    user_id: str,
    conversation_id: str,
    running: bool,
    idempotency_key: str | None,
    fingerprint: str,
    dedupe_window_s: float,
) -> Added:
    """A new task for the request, or the earlier task of the same request: a repeated
    ``Idempotency-Key``, or (without one) the same ``fingerprint`` within ``dedupe_window_s``.
    Identical requests arriving together are serialised by an advisory lock on their key."""
    tasks = TaskRepository(session)
    await tasks.lock_for_add(project_id, idempotency_key or fingerprint)
    earlier = await tasks.find_repeat(project_id, idempotency_key, fingerprint, dedupe_window_s)
    if earlier is not None:
        return Added(earlier, created=False)
    task = await tasks.add(
        Task(
            id=uuid.uuid4(),
            project_id=project_id,
            kind=kind,
            user_id=user_id,
            conversation_id=conversation_id,
            status="running" if running else "completed",
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
    )
    return Added(task, created=True)


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
