"""get/status."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.api.deps import ProjectDep, SessionDep
from memos_server.api.responses import ERRORS, NOT_FOUND
from memos_server.api.schemas.common import Envelope
from memos_server.api.schemas.messages import AddMessageData
from memos_server.api.schemas.tasks import TaskStatus, TaskStatusRequest
from memos_server.runtime import Runtime
from memos_server.services.tasks import Added, get_task, wait_for_task
from memos_server.storage.database import unavailable

log = logging.getLogger(__name__)

router = APIRouter(tags=["tasks"], responses={**ERRORS, **NOT_FOUND})


async def answer_added(
    session: AsyncSession, runtime: Runtime, added: Added, async_mode: bool
) -> Envelope[AddMessageData]:
    """Commit an add, wake this process's worker for its job, and answer with its task (once
    the job has finished, when ``async_mode`` is false).

    Success is answered only after the commit: if it fails, the request fails (503 when the
    database went away) and the client repeats it."""
    await session.commit()  # what the request stored, and its job, are safe from here on
    task = added.task
    if added.created and runtime.worker is not None:
        runtime.worker.wake()
    if not async_mode and task.status == "running":
        try:
            task = await wait_for_task(
                runtime.database, task.id, runtime.settings.ingest.sync_wait_s
            )
        except Exception as error:
            if not unavailable(error):
                raise
            # The add is stored and its job queued; an error now would invite a repeat.
            log.warning("task %s: database unavailable while waiting; answered running", task.id)
    return Envelope(data=AddMessageData(success=True, task_id=str(task.id), status=task.status))


@router.post("/get/status", response_model=Envelope[list[TaskStatus]])
async def get_status(
    body: TaskStatusRequest, project: ProjectDep, session: SessionDep
) -> Envelope[list[TaskStatus]]:
    """What became of an add: running, completed or failed."""
    task = await get_task(session, project, body.task_id)
    return Envelope(data=[TaskStatus(task_id=str(task.id), status=task.status, error=task.error)])
