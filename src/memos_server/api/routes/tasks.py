"""get/status."""

from __future__ import annotations

from fastapi import APIRouter

from memos_server.api.deps import ProjectDep, SessionDep
from memos_server.api.responses import ERRORS, NOT_FOUND
from memos_server.api.schemas.common import Envelope
from memos_server.api.schemas.tasks import TaskStatus, TaskStatusRequest
from memos_server.services.tasks import get_task

router = APIRouter(tags=["tasks"], responses={**ERRORS, **NOT_FOUND})


@router.post(
    "/get/status",
    response_model=Envelope[list[TaskStatus]],
    summary="Get an add's status",
    operation_id="get_status",
)
async def get_status(
    body: TaskStatusRequest, project: ProjectDep, session: SessionDep
) -> Envelope[list[TaskStatus]]:
    """What became of an add: running, completed or failed."""
    task = await get_task(session, project, body.task_id)
    return Envelope(data=[TaskStatus(task_id=str(task.id), status=task.status, error=task.error)])
