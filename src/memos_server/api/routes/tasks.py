"""get/status."""

from __future__ import annotations

from fastapi import APIRouter

from memos_server.api.deps import ProjectDep, SessionDep, SettingsDep
from memos_server.api.responses import ERRORS, NOT_FOUND
from memos_server.api.schemas.common import Envelope
from memos_server.api.schemas.tasks import MemoryViews, TaskStatus, TaskStatusRequest
from memos_server.services.limits import check_ids
from memos_server.services.tasks import get_task, memory_changes

router = APIRouter(tags=["tasks"], responses={**ERRORS, **NOT_FOUND})


@router.post(
    "/get/status",
    response_model=Envelope[list[TaskStatus] | TaskStatus],
    summary="Get an add's status",
    operation_id="get_status",
)
async def get_status(
    body: TaskStatusRequest, project: ProjectDep, session: SessionDep, settings: SettingsDep
) -> Envelope[list[TaskStatus] | TaskStatus]:
    """What became of an add: running, completed or failed, and the memories it added, updated
    and deleted (``memory_views``). ``data`` is a list of the one task unless the request's
    ``data_shape`` (or the service's ``MEMOS_INGEST__STATUS_SHAPE``) is ``object``: see
    docs/api.md for which MemoryOS SDK reads which."""
    check_ids(settings.limits, task_id=body.task_id)
    task = await get_task(session, project, body.task_id)
    changes = await memory_changes(session, project, task.id)
    status = TaskStatus(
        task_id=str(task.id),
        status=task.status,
        error=task.error,
        memory_views=MemoryViews(
            added=[str(m) for m in changes.added],
            updated=[str(m) for m in changes.updated],
            deleted=[str(m) for m in changes.deleted],
        ),
    )
    shape = body.data_shape or settings.ingest.status_shape
    return Envelope(data=status if shape == "object" else [status])
