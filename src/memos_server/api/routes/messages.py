"""add/message and get/message."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Request

from memos_server.api.added import answer_added
from memos_server.api.deps import (
    IdempotencyKey,
    KnowledgeDep,
    MessageIntakeDep,
    ProjectDep,
    ReadsDep,
    RuntimeDep,
    SessionDep,
    SettingsDep,
    spend_input,
)
from memos_server.api.responses import ERRORS
from memos_server.api.schemas.common import Envelope, wall_clock
from memos_server.api.schemas.messages import (
    ADD_ANSWER_EXAMPLES,
    AddMessageData,
    AddMessageRequest,
    GetMessageData,
    GetMessageRequest,
    MessageDetail,
)
from memos_server.services.conversations import recent_messages

router = APIRouter(tags=["messages"], responses=ERRORS)


@router.post(
    "/add/message",
    response_model=Envelope[AddMessageData],
    summary="Add messages",
    operation_id="add_message",
    responses={200: {"content": {"application/json": {"examples": ADD_ANSWER_EXAMPLES}}}},
)
async def add_message(
    body: AddMessageRequest,
    project: ProjectDep,
    session: SessionDep,
    intake: MessageIntakeDep,
    knowledge: KnowledgeDep,
    runtime: RuntimeDep,
    request: Request,
    idempotency_key: IdempotencyKey,
) -> Envelope[AddMessageData]:
    """Store a finished conversation's messages and turn them into memories.

    The messages and their fast-mode memories are stored before the answer; with an LLM
    configured, fine extraction runs as a job (``status: running``; poll ``/get/status``), or
    before the answer when ``async_mode`` is false. A repeat (the same ``Idempotency-Key``, or
    the same request lately) answers the first add's task; a key sent again with a different
    request is refused (422, 40000). With ``allow_knowledgebase_ids`` the add's memories are
    written into those knowledge bases too: a search naming one of them finds them, whoever asks.
    """
    spend_input(request, runtime, (m.text for m in body.messages))
    shared = await knowledge.search_bases(
        session, project_id=project, base_ids=body.allow_knowledgebase_ids
    )
    added = await intake.add(
        session,
        project_id=project,
        request=replace(body.to_add(), knowledgebase_ids=tuple(shared)),
        idempotency_key=idempotency_key,
    )
    return await answer_added(session, runtime, added, body.async_mode)


@router.post(
    "/get/message",
    response_model=Envelope[GetMessageData],
    summary="Get a conversation's messages",
    operation_id="get_message",
)
async def get_message(
    body: GetMessageRequest, project: ProjectDep, reads: ReadsDep, settings: SettingsDep
) -> Envelope[GetMessageData]:
    """The most recent raw messages of a conversation, oldest first; without
    ``conversation_id``, those of the user's ``conversation_limit_number`` most recent
    conversations."""
    session = await reads.session(project_id=project, user_id=body.user_id)
    messages = await recent_messages(
        session,
        settings,
        project,
        body.user_id,
        body.conversation_id,
        body.message_limit_number,
        conversation_limit=body.conversation_limit_number,
        source=body.source,
    )
    return Envelope(
        data=GetMessageData(
            message_detail_list=[
                MessageDetail(
                    message_id=m.seq,
                    role=m.role,
                    role_id=m.role_id,
                    role_name=m.role_name,
                    content=m.content_parts if m.content_parts is not None else m.content,
                    create_time=wall_clock(m.chat_time or m.created_at),
                    update_time=wall_clock(m.chat_time or m.updated_at),
                    conversation_id=m.conversation_id,
                    source=m.source,
                    tool_call_id=m.tool_call_id,
                    tool_calls=m.tool_calls,
                )
                for m in messages
            ]
        )
    )
