"""add/feedback."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from memos_server.api.deps import EmbedderDep, ProjectDep, RuntimeDep, SessionDep, SettingsDep
from memos_server.api.responses import ERRORS
from memos_server.api.schemas.common import Envelope
from memos_server.api.schemas.feedback import AddFeedbackRequest
from memos_server.api.schemas.messages import AddMessageData
from memos_server.services.feedback import IncomingFeedback, add_feedback
from memos_server.services.tasks import wait_for_task

router = APIRouter(tags=["feedback"], responses=ERRORS)


@router.post("/add/feedback", response_model=Envelope[AddMessageData])
async def add_feedback_route(
    body: AddFeedbackRequest,
    project: ProjectDep,
    session: SessionDep,
    embedder: EmbedderDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=200,
            description="Makes the feedback safe to repeat: a repeat answers the first's task.",
        ),
    ] = None,
) -> Envelope[AddMessageData]:
    """Correct the user's memories with their feedback ("I don't live in Beijing anymore").

    The feedback is stored as a memory of its own at once, ranked above what it corrects. With
    an LLM configured, a job then updates or archives the memories it contradicts and adds what
    it newly says (``status: running``; poll ``/get/status``), or before the answer when
    ``async_mode`` is false.
    """
    added = await add_feedback(
        session,
        embedder,
        settings,
        project,
        IncomingFeedback(
            user_id=body.user_id,
            content=body.feedback_content,
            conversation_id=body.conversation_id,
            feedback_time=body.feedback_time,
            agent_id=body.agent_id,
            app_id=body.app_id,
        ),
        apply=runtime.llm is not None,
        idempotency_key=idempotency_key,
    )
    await session.commit()
    task = added.task
    if added.created and runtime.worker is not None:
        runtime.worker.wake()
    if not body.async_mode and task.status == "running":
        task = await wait_for_task(runtime.database, task.id, settings.ingest.sync_wait_s)
    return Envelope(data=AddMessageData(success=True, task_id=str(task.id), status=task.status))
