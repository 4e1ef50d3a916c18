"""What each MCP tool does, as one call into the services: the only module of ``mcp`` that calls
one. Its inputs are the REST API's own request models (already validated, so a tool and its
endpoint accept the same things); its outputs are the REST answers' ``data``. Each call is a
request of its own: one session, committed at its end as a REST request's is
(``api.transaction.request_session``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from memos_server.api.added import settle_added
from memos_server.api.routes.memories import memory_listing
from memos_server.api.routes.search import profile_fields, search_data, search_query
from memos_server.api.schemas.feedback import AddFeedbackRequest
from memos_server.api.schemas.knowledge import (
    AddedFile,
    AddKnowledgebaseFileRequest,
    CreateKnowledgebaseData,
    CreateKnowledgebaseRequest,
    DeleteKnowledgebaseFileRequest,
    DeleteKnowledgebaseRequest,
    GetKnowledgebaseFileData,
    SuccessData,
    added_file,
    file_detail,
)
from memos_server.api.schemas.memories import (
    DeleteMemoryData,
    DeleteMemoryRequest,
    GetMemoryData,
    GetMemoryRequest,
)
from memos_server.api.schemas.messages import AddMessageData, AddMessageRequest
from memos_server.api.schemas.search import SearchMemoryData, SearchMemoryRequest
from memos_server.api.transaction import request_session
from memos_server.runtime import Runtime
from memos_server.services.feedback_intake import IncomingFeedback
from memos_server.services.knowledge.bases import Upload, decode_content
from memos_server.services.memory_admin import DeleteQuery


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
    async with request_session(runtime.database) as session:
        added = await runtime.services.messages.add(
            session, project_id=caller.project_id, request=body.to_add()
        )
        task = await settle_added(session, runtime, added, async_mode=True)
        return AddMessageData(success=True, task_id=str(task.id), status=task.status)


async def search_memory(caller: Caller, body: SearchMemoryRequest) -> SearchMemoryData:
    """As search/memory: the user's memories of each kind asked for, best first, then any
    passages of the knowledge bases named."""
    runtime, settings, project = caller.runtime, caller.runtime.settings, caller.project_id
    async with runtime.reads.session(project_id=project, user_id=body.user_id) as session:
        query = await search_query(session, body, project, runtime.services.knowledge, settings)
        result = await runtime.services.search.search(session, project_id=project, query=query)
        fields = await profile_fields(session, body, project, runtime.services.profiles, settings)
        return await search_data(session, project, body, result, fields)


async def delete_memory(caller: Caller, body: DeleteMemoryRequest) -> DeleteMemoryData:
    """As delete/memory by ``memory_ids``: ids of another project are simply not found."""
    runtime = caller.runtime
    runtime.reads.wrote(caller.project_id, None)  # whose memories the ids are is not known
    async with request_session(runtime.database) as session:
        deleted = await runtime.services.memories.delete(
            session, project_id=caller.project_id, query=DeleteQuery(memory_ids=body.memory_ids)
        )
    return DeleteMemoryData(success=True, deleted_count=deleted)


async def feedback(caller: Caller, body: AddFeedbackRequest) -> AddMessageData:
    """As add/feedback: stored at once as a memory ranked above what it corrects; with an LLM,
    a job then updates or archives what it contradicts."""
    runtime = caller.runtime
    async with request_session(runtime.database) as session:
        shared = await runtime.services.knowledge.search_bases(
            session, project_id=caller.project_id, base_ids=body.allow_knowledgebase_ids
        )
        added = await runtime.services.feedback.add(
            session,
            project_id=caller.project_id,
            feedback=IncomingFeedback(
                user_id=body.user_id,
                content=body.feedback_content,
                conversation_id=body.conversation_id,
                feedback_time=body.feedback_time,
                agent_id=body.agent_id,
                app_id=body.app_id,
                knowledgebase_ids=tuple(shared),
            ),
        )
        task = await settle_added(session, runtime, added, async_mode=True)
        return AddMessageData(success=True, task_id=str(task.id), status=task.status)


async def user_profile(caller: Caller, body: GetMemoryRequest) -> GetMemoryData:
    """As get/memory: one page of the user's memories of each kind listed, newest first, and
    their profiles."""
    runtime = caller.runtime
    async with runtime.reads.session(project_id=caller.project_id, user_id=body.user_id) as session:
        return await memory_listing(
            session,
            caller.project_id,
            body,
            memories=runtime.services.memories,
            profiles=runtime.services.profiles,
            settings=runtime.settings,
        )


async def create_knowledge_base(
    caller: Caller, body: CreateKnowledgebaseRequest
) -> CreateKnowledgebaseData:
    """As create/knowledgebase: a new, empty base of the key's project."""
    runtime = caller.runtime
    async with request_session(runtime.database) as session:
        base = await runtime.services.knowledge.create(
            session,
            project_id=caller.project_id,
            name=body.knowledgebase_name,
            description=body.knowledgebase_description,
        )
        return CreateKnowledgebaseData(id=base.id.hex)


async def remove_knowledge_base(caller: Caller, body: DeleteKnowledgebaseRequest) -> SuccessData:
    """As delete/knowledgebase: the base, its documents and passages, at once."""
    runtime = caller.runtime
    async with request_session(runtime.database) as session:
        await runtime.services.knowledge.delete(
            session, project_id=caller.project_id, base_id=body.knowledgebase_id
        )
    return SuccessData(success=True)


async def add_kb_document(caller: Caller, body: AddKnowledgebaseFileRequest) -> list[AddedFile]:
    """As add/knowledgebase-file (JSON): each document stored with its job (``running``); the
    worker is woken once they are committed."""
    runtime = caller.runtime
    uploads = []
    for item in body.file:
        decoded = decode_content(item.content)
        uploads.append(Upload(name=item.name, content=decoded.content, url=decoded.url))
    async with request_session(runtime.database) as session:
        files = await runtime.services.knowledge.add_files(
            session, project_id=caller.project_id, base_id=body.knowledgebase_id, uploads=uploads
        )
        added = [added_file(f) for f in files]
    if runtime.worker is not None:
        runtime.worker.wake()
    return added


async def get_kb_documents(
    caller: Caller, body: DeleteKnowledgebaseFileRequest
) -> GetKnowledgebaseFileData:
    """As get/knowledgebase-file by ``file_ids``: each document with its status and reason."""
    runtime = caller.runtime
    async with request_session(runtime.database) as session:
        files = await runtime.services.knowledge.files(
            session, project_id=caller.project_id, file_ids=body.file_ids
        )
        details = [file_detail(f) for f in files]
    return GetKnowledgebaseFileData(
        file_detail_list=details, total=len(details), page=1, page_size=max(1, len(details))
    )


async def delete_kb_documents(caller: Caller, body: DeleteKnowledgebaseFileRequest) -> SuccessData:
    """As delete/knowledgebase-file: the documents and their passages, at once."""
    runtime = caller.runtime
    async with request_session(runtime.database) as session:
        await runtime.services.knowledge.delete_files(
            session, project_id=caller.project_id, file_ids=body.file_ids
        )
    return SuccessData(success=True)
