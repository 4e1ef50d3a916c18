"""add/feedback."""

from __future__ import annotations

from fastapi import APIRouter, Request

from memos_server.api.added import answer_added
from memos_server.api.deps import (
    FeedbackIntakeDep,
    IdempotencyKey,
    KnowledgeDep,
    ProjectDep,
    RuntimeDep,
    SessionDep,
    spend_input,
)
from memos_server.api.responses import ERRORS
from memos_server.api.schemas.common import Envelope
from memos_server.api.schemas.feedback import AddFeedbackRequest
from memos_server.api.schemas.messages import AddMessageData
from memos_server.services.feedback_intake import IncomingFeedback

router = APIRouter(tags=["feedback"], responses=ERRORS)


@router.post(
    "/add/feedback",
    response_model=Envelope[AddMessageData],
    summary="Add feedback",
    operation_id="add_feedback",
)
async def add_feedback_route(
    body: AddFeedbackRequest,
    project: ProjectDep,
    session: SessionDep,
    intake: FeedbackIntakeDep,
    knowledge: KnowledgeDep,
    runtime: RuntimeDep,
    request: Request,
    idempotency_key: IdempotencyKey,
) -> Envelope[AddMessageData]:
    """Correct the user's memories with their feedback ("I don't live in Beijing anymore").

    The feedback is stored as a memory of its own at once, ranked above what it corrects. With
    an LLM configured, a job then updates or archives the memories it contradicts and adds what
    it newly says (``status: running``; poll ``/get/status``), or before the answer when
    ``async_mode`` is false. Repeats are answered as for add/message (``Idempotency-Key``).
    With ``allow_knowledgebase_ids`` the correction is written into those knowledge bases too: a
    search naming one of them finds it, whoever asks.
    """
    spend_input(request, runtime, [body.feedback_content])
    shared = await knowledge.search_bases(
        session, project_id=project, base_ids=body.allow_knowledgebase_ids
    )
    added = await intake.add(
        session,
        project_id=project,
        feedback=IncomingFeedback(
            user_id=body.user_id,
            content=body.feedback_content,
            conversation_id=body.conversation_id,
            feedback_time=body.feedback_time,
            agent_id=body.agent_id,
            app_id=body.app_id,
            knowledgebase_ids=tuple(shared),
        ),
        idempotency_key=idempotency_key,
    )
    return await answer_added(session, runtime, added, body.async_mode)
