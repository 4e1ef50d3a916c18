"""chat: the configured model answers with the user's memories, as JSON or server-sent events.

The stream, in the cloud's format: ``event: message`` lines whose ``data`` is ``{"type": "text",
"data": "<piece of the answer>"}`` (``"reasoning"`` for a reasoning model's thoughts), and last
``{"type": "end", "data": {"response": "<whole answer>", "task_id": "<stored turn>" | null}}``.
If the model breaks off midway, an ``{"type": "error", "data": "<why>"}`` event comes before the
end, and the turn is not stored. A model that cannot be reached at all is a 503 envelope, as
without streaming: the stream starts only once the model has begun to answer.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.api.added import settle_added
from memos_server.api.deps import (
    ChatDep,
    KnowledgeDep,
    ProjectDep,
    RuntimeDep,
    SessionDep,
    spend_input,
)
from memos_server.api.exact_numbers import ExactNumbersRoute
from memos_server.api.responses import ERRORS
from memos_server.api.schemas.chat import ChatData, ChatRequest
from memos_server.api.schemas.common import Envelope
from memos_server.api.transaction import commit_now, request_session
from memos_server.filters import parse_search_filter
from memos_server.llm import Delta, LLMUnavailable, Sampling
from memos_server.llm.think import split_answer, split_stream
from memos_server.runtime import Runtime
from memos_server.services.chat import ChatQuery, ChatService
from memos_server.storage.models import Task

log = logging.getLogger(__name__)

router = APIRouter(tags=["chat"], responses=ERRORS, route_class=ExactNumbersRoute)

_STREAM_EXAMPLE = (
    'event: message\ndata: {"type": "text", "data": "国庆"}\n\n'
    'event: message\ndata: {"type": "text", "data": "可以去成都"}\n\n'
    'event: message\ndata: {"type": "end", "data": {"response": "国庆可以去成都", '
    '"task_id": "0a89db3a-2061-4c97-a1b8-45700f8745bc"}}\n\n'
)
# Each event's ``data`` is JSON; ``itemSchema`` documents one event, as OpenAPI 3.2 (and FastAPI's
# own event streams) do.
_EVENT_DATA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "data"],
    "properties": {
        "type": {"enum": ["text", "reasoning", "error", "end"]},
        "data": {
            "anyOf": [
                {"type": "string", "description": "text, reasoning, error: a piece, or why"},
                {
                    "type": "object",
                    "description": "end: the whole answer and the add that stored it",
                    "required": ["response", "task_id"],
                    "properties": {
                        "response": {"type": "string"},
                        "task_id": {"type": ["string", "null"]},
                    },
                },
            ]
        },
    },
}
_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer; with `stream: true`, server-sent events.",
        "content": {
            "text/event-stream": {
                "itemSchema": {
                    "type": "object",
                    "required": ["event", "data"],
                    "properties": {
                        "event": {"const": "message"},
                        "data": {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "contentSchema": _EVENT_DATA,
                        },
                    },
                },
                "example": _STREAM_EXAMPLE,
            }
        },
    }
}


def sse(kind: str, data: Any) -> str:
    payload = json.dumps({"type": kind, "data": data}, ensure_ascii=False)
    return f"event: message\ndata: {payload}\n\n"


@router.post(
    "/chat",
    response_model=Envelope[ChatData],
    responses=_STREAM_DOC,
    summary="Chat with memories",
    operation_id="chat",
)
async def chat(
    body: ChatRequest,
    project: ProjectDep,
    session: SessionDep,
    chat_service: ChatDep,
    knowledge: KnowledgeDep,
    runtime: RuntimeDep,
    request: Request,
) -> Envelope[ChatData] | StreamingResponse:
    """Answer the user's message with the configured model and the user's memories.

    Recalls facts and preferences (and, with ``knowledgebase_ids``, the bases' best passages, in a
    block of their own) as ``/search/memory`` does and sends them, with your
    ``system_prompt`` and the conversation's recent turns, to the model. With
    ``add_message_on_answer`` (the default) the message and the answer are stored as a turn of the
    conversation. ``stream: true`` answers as server-sent events. Needs an LLM (503 otherwise).
    """
    spend_input(request, runtime, [body.query])
    llm = chat_service.model()
    asked_at = datetime.now(UTC)
    where = parse_search_filter(body.filter)
    bases = await knowledge.search_bases(
        session, project_id=project, base_ids=body.knowledgebase_ids or []
    )
    shared = await knowledge.search_bases(
        session, project_id=project, base_ids=body.allow_knowledgebase_ids
    )
    query = ChatQuery(
        user_id=body.user_id,
        conversation_id=body.conversation_id,
        query=body.query,
        system_prompt=body.system_prompt,
        memory_limit=body.memory_limit_number,
        include_preference=body.include_preference,
        preference_limit=body.preference_limit_number,
        min_relativity=body.relativity,
        where=where.user,
        knowledgebase_ids=tuple(bases),
        passage_where=where.knowledgebase,
        shared_into=tuple(shared),
        agent_id=body.agent_id,
        app_id=body.app_id,
        tags=body.tags,
        info=body.info,
        source=body.source,
        sampling=Sampling(
            temperature=body.temperature, top_p=body.top_p, max_tokens=body.max_tokens
        ),
    )
    messages = await chat_service.prompt(session, project_id=project, chat=query, now=asked_at)
    # The model may take many seconds: hold no database connection meanwhile.
    await commit_now(session)

    if body.stream:
        deltas = split_stream(llm.stream(messages, sampling=query.sampling))
        first = await anext(deltas, None)  # unreachable model: a 503 envelope, not a stream
        return StreamingResponse(
            _events(first, deltas, runtime, chat_service, project, query, asked_at, body),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    completion = await llm.complete(messages, sampling=query.sampling)
    answer, reasoning = split_answer(completion.text, completion.reasoning)
    task_id = None
    if body.add_message_on_answer:
        task = await _remember(
            session, runtime, chat_service, project, query, answer, asked_at, body.async_mode
        )
        task_id = str(task.id)
    return Envelope(data=ChatData(response=answer, reasoning=reasoning or None, task_id=task_id))


async def _remember(
    session: AsyncSession,
    runtime: Runtime,
    chat_service: ChatService,
    project: uuid.UUID,
    query: ChatQuery,
    answer: str,
    asked_at: datetime,
    async_mode: bool,
) -> Task:
    added = await chat_service.remember(
        session,
        project_id=project,
        chat=query,
        answer=answer,
        asked_at=asked_at,
        answered_at=datetime.now(UTC),
    )
    return await settle_added(session, runtime, added, async_mode)


async def _events(
    first: Delta | None,
    deltas: AsyncGenerator[Delta, None],
    runtime: Runtime,
    chat_service: ChatService,
    project: uuid.UUID,
    query: ChatQuery,
    asked_at: datetime,
    body: ChatRequest,
) -> AsyncIterator[str]:
    answer: list[str] = []
    try:
        delta = first
        while delta is not None:
            if delta.reasoning:
                yield sse("reasoning", delta.reasoning)
            if delta.text:
                answer.append(delta.text)
                yield sse("text", delta.text)
            delta = await anext(deltas, None)
    except LLMUnavailable as error:
        log.warning("chat stream broke off: %s", error.message)
        yield sse("error", error.message)
        yield sse("end", {"response": "".join(answer), "task_id": None})
        return
    finally:
        await deltas.aclose()
    task_id = None
    if body.add_message_on_answer:
        try:
            # The route has returned: the stored turn is a transaction of its own.
            async with request_session(runtime.database) as session:
                task = await _remember(
                    session,
                    runtime,
                    chat_service,
                    project,
                    query,
                    "".join(answer),
                    asked_at,
                    body.async_mode,
                )
            task_id = str(task.id)
        except Exception:
            # The client already has the answer; say the turn was not stored, end the stream.
            log.exception("chat: the answer could not be stored")
            yield sse("error", "the answer was not stored in the conversation (internal error)")
    yield sse("end", {"response": "".join(answer), "task_id": task_id})
