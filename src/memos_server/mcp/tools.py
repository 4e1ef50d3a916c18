"""What each MCP tool does, as one call into the services: the only module of ``mcp`` that calls
one. Its inputs are the REST API's own request models (already validated, so a tool and its
endpoint accept the same things); its outputs are the REST answers' ``data``. Each call opens its
own session and commits where the endpoint commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from memos_server.api.added import settle_added
from memos_server.api.routes.memories import stored_memory, stored_preference
from memos_server.api.routes.search import memory_detail, passage_detail, preference_detail
from memos_server.api.schemas.feedback import AddFeedbackRequest
from memos_server.api.schemas.memories import (
    DeleteMemoryData,
    DeleteMemoryRequest,
    GetMemoryData,
    GetMemoryRequest,
)
from memos_server.api.schemas.messages import AddMessageData, AddMessageRequest
from memos_server.api.schemas.search import SearchMemoryData, SearchMemoryRequest
from memos_server.filters import parse_filter
from memos_server.runtime import Runtime
from memos_server.services.conversations import message_numbers
from memos_server.services.feedback import IncomingFeedback, add_feedback
from memos_server.services.ingest import add_messages
from memos_server.services.knowledge import KnowledgeService
from memos_server.services.memory_admin import DeleteQuery, ListQuery, delete_memories
from memos_server.services.memory_admin import list_memories as list_stored
from memos_server.services.search import SearchQuery, search_memories


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's project (every tool sees only its data) and the runtime."""

    runtime: Runtime
    project_id: uuid.UUID
    default_user: str | None = None  # the user a tool call names none of


async def add_message(caller: Caller, body: AddMessageRequest) -> AddMessageData:
    """As add/message: stored now; fine extraction, if any, runs as a job (never waited for:
    a model should not sit through it)."""
    runtime = caller.runtime
    async with runtime.database.session() as session:
        added = await add_messages(
            session,
            runtime.require_embedder(),
            runtime.settings,
            caller.project_id,
            body.to_add(),
            refine=runtime.fine_mode,
        )
        task = await settle_added(session, runtime, added, async_mode=True)
        return AddMessageData(success=True, task_id=str(task.id), status=task.status)


async def search_memory(caller: Caller, body: SearchMemoryRequest) -> SearchMemoryData:
    """As search/memory: the user's facts and preferences, best first, then any passages of
    the knowledge bases named."""
    runtime, settings, project = caller.runtime, caller.runtime.settings, caller.project_id
    async with runtime.database.session() as session:
        bases = await KnowledgeService(settings).search_bases(
            session, project_id=project, base_ids=body.knowledgebase_ids or []
        )
        passage_limit = (
            body.knowledgebase_limit_number
            if body.knowledgebase_limit_number is not None
            else settings.knowledge.search_limit
        )
        result = await search_memories(
            session,
            runtime.require_embedder(),
            settings,
            project,
            SearchQuery(
                user_id=body.user_id,
                query=body.query,
                memory_limit=body.memory_limit_number,
                include_preference=body.include_preference,
                preference_limit=body.preference_limit_number,
                min_relativity=body.relativity,
                agent_id=body.agent_id,
                where=parse_filter(body.filter),
                knowledgebase_ids=tuple(bases),
                passage_limit=passage_limit if bases else 0,
            ),
            runtime.reranker,
            runtime.indexes,
        )
        numbers = await message_numbers(session, project, [s.memory for s in result.facts])
    return SearchMemoryData(
        memory_detail_list=[
            *(memory_detail(s, numbers) for s in result.facts),
            *(passage_detail(p) for p in result.passages),
        ],
        preference_detail_list=[preference_detail(s) for s in result.preferences],
        preference_note=result.preference_note,
    )


async def delete_memory(caller: Caller, body: DeleteMemoryRequest) -> DeleteMemoryData:
    """As delete/memory by ``memory_ids``: ids of another project are simply not found."""
    runtime = caller.runtime
    async with runtime.database.session() as session:
        deleted = await delete_memories(
            session,
            runtime.settings,
            caller.project_id,
            DeleteQuery(memory_ids=body.memory_ids),
        )
        await session.commit()
    return DeleteMemoryData(success=True, deleted_count=deleted)


async def feedback(caller: Caller, body: AddFeedbackRequest) -> AddMessageData:
    """As add/feedback: stored at once as a memory ranked above what it corrects; with an LLM,
    a job then updates or archives what it contradicts."""
    runtime = caller.runtime
    async with runtime.database.session() as session:
        added = await add_feedback(
            session,
            runtime.require_embedder(),
            runtime.settings,
            caller.project_id,
            IncomingFeedback(
                user_id=body.user_id,
                content=body.feedback_content,
                conversation_id=body.conversation_id,
                feedback_time=body.feedback_time,
                agent_id=body.agent_id,
                app_id=body.app_id,
            ),
            apply=runtime.fine_mode,
        )
        task = await settle_added(session, runtime, added, async_mode=True)
        return AddMessageData(success=True, task_id=str(task.id), status=task.status)


async def user_profile(caller: Caller, body: GetMemoryRequest) -> GetMemoryData:
    """As get/memory: one page of the user's facts and preferences, newest first."""
    runtime, project = caller.runtime, caller.project_id
    async with runtime.database.session() as session:
        page = await list_stored(
            session,
            runtime.settings,
            project,
            ListQuery(
                user_id=body.user_id,
                agent_id=body.agent_id,
                page=body.page,
                size=body.size,
                filter=body.filter,
                include_preference=body.include_preference,
            ),
        )
        numbers = await message_numbers(session, project, [*page.facts, *page.preferences])
    return GetMemoryData(
        memory_detail_list=[stored_memory(m, numbers) for m in page.facts],
        preference_detail_list=[stored_preference(m, numbers) for m in page.preferences],
        total=page.fact_total,
        preference_total=page.preference_total,
        size=page.size,
        current=page.page,
        pages=page.pages,
    )
