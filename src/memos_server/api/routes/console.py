"""console/*: the reads the web console needs beyond the MemOS API, with the same key.

Each answers only the key's own project. The console searches, chats, edits, archives and
deletes through the public endpoints (search/memory, chat, update/memory, delete/memory).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter

from memos_server import __version__
from memos_server.api.deps import KnowledgeDep, ProjectDep, ReadsDep, RuntimeDep, SettingsDep
from memos_server.api.responses import ERRORS, MEMORY_NOT_FOUND, NOT_FOUND, NOT_LINKED
from memos_server.api.schemas.common import Envelope, epoch_ms, wall_clock
from memos_server.api.schemas.console import (
    ConsoleInfo,
    ConsoleMemory,
    ConsoleMessage,
    ConsolePassage,
    ConversationsData,
    ConversationsRequest,
    ConversationSummary,
    HistoryData,
    HistoryRequest,
    HistoryRow,
    KnowledgebasesData,
    KnowledgebasesRequest,
    KnowledgebaseSummary,
    MemoriesData,
    MemoriesRequest,
    MemoryRef,
    MessagesData,
    MessagesRequest,
    PassagesData,
    PassagesRequest,
    SourceMessage,
    UsersData,
    UsersRequest,
    UserSummary,
)
from memos_server.api.schemas.knowledge import file_detail
from memos_server.services.console import (
    list_conversations,
    list_user_memories,
    list_users,
    memory_story,
    project_name,
    read_conversation,
)
from memos_server.services.conversations import message_numbers
from memos_server.storage.models import Memory, Message
from memos_server.storage.paging import offset_of

router = APIRouter(prefix="/console", tags=["console"], responses=ERRORS)

ATTACHMENT_CHARS = 200


def memory_ref(m: Memory) -> MemoryRef:
    return MemoryRef(**_ref_fields(m))


def console_memory(m: Memory, numbers: Mapping[int, int]) -> ConsoleMemory:
    return ConsoleMemory(
        **_ref_fields(m),
        reasoning=m.reasoning,
        confidence=m.confidence,
        memory_time=wall_clock(m.memory_time),
        conversation_id=m.conversation_id,
        agent_id=m.agent_id,
        app_id=m.app_id,
        source_message_ids=[numbers[i] for i in m.source_message_ids if i in numbers],
        expires_at=epoch_ms(m.expires_at),
    )


def _ref_fields(m: Memory) -> dict[str, Any]:
    return {
        "id": str(m.id),
        "kind": m.kind,
        "mode": m.mode,
        "memory_type": m.memory_type,
        "preference_type": m.preference_type,
        "status": m.status,
        "memory_key": m.memory_key,
        "text": m.memory_value,
        "tags": m.tags,
        "create_time": epoch_ms(m.create_time),
        "update_time": epoch_ms(m.update_time),
    }


def attachments(parts: list[dict[str, Any]] | None) -> list[str]:
    """A message's parts other than text, named briefly: an inline image or file can be
    megabytes of base64 the console has no use for."""
    found = []
    for part in parts or []:
        if part.get("type") == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            cut = "…" if len(url) > ATTACHMENT_CHARS else ""
            found.append(f"image {url[:ATTACHMENT_CHARS]}{cut}")
        elif part.get("type") == "file":
            file = part.get("file") or {}
            found.append(f"file {file.get('filename') or file.get('file_id') or ''}".strip())
    return found


def _time(m: Message) -> int | None:
    return epoch_ms(m.chat_time or m.created_at)


@router.get(
    "/info",
    response_model=Envelope[ConsoleInfo],
    summary="Key and service info",
    operation_id="console_info",
)
async def info(
    project: ProjectDep, reads: ReadsDep, runtime: RuntimeDep, settings: SettingsDep
) -> Envelope[ConsoleInfo]:
    """The key's project and what this service can do (whether chat is available)."""
    session = await reads.session(project_id=project, user_id=None)
    return Envelope(
        data=ConsoleInfo(
            project=await project_name(session, project),
            version=__version__,
            chat_available=runtime.fine_mode,
            llm_model=settings.llm.model if runtime.fine_mode else None,
            embedding_model=runtime.require_embedder().name,
        )
    )


@router.post(
    "/users", response_model=Envelope[UsersData], summary="List users", operation_id="console_users"
)
async def users(body: UsersRequest, project: ProjectDep, reads: ReadsDep) -> Envelope[UsersData]:
    """The project's users, most recently active first, with their counts."""
    session = await reads.session(project_id=project, user_id=None)
    page = await list_users(session, project, body.offset, body.limit)
    return Envelope(
        data=UsersData(
            users=[
                UserSummary(
                    user_id=u.user_id,
                    messages=u.messages,
                    conversations=u.conversations,
                    facts=u.facts,
                    preferences=u.preferences,
                    archived=u.archived,
                    last_active=epoch_ms(u.last_active),
                )
                for u in page.items
            ],
            total=page.total,
        )
    )


@router.post(
    "/conversations",
    response_model=Envelope[ConversationsData],
    summary="List a user's conversations",
    operation_id="console_conversations",
)
async def conversations(
    body: ConversationsRequest, project: ProjectDep, reads: ReadsDep, settings: SettingsDep
) -> Envelope[ConversationsData]:
    """A user's conversations, the one with the latest message first."""
    session = await reads.session(project_id=project, user_id=body.user_id)
    page = await list_conversations(
        session, settings, project, body.user_id, body.offset, body.limit
    )
    return Envelope(
        data=ConversationsData(
            conversations=[
                ConversationSummary(
                    conversation_id=c.conversation_id,
                    messages=c.messages,
                    memories=c.memories,
                    first_time=epoch_ms(c.first_time) or 0,
                    last_time=epoch_ms(c.last_time) or 0,
                )
                for c in page.items
            ],
            total=page.total,
        )
    )


@router.post(
    "/messages",
    response_model=Envelope[MessagesData],
    summary="List a conversation's messages",
    operation_id="console_messages",
)
async def messages(
    body: MessagesRequest, project: ProjectDep, reads: ReadsDep, settings: SettingsDep
) -> Envelope[MessagesData]:
    """A conversation's raw messages, oldest first, each with the memories made from it."""
    session = await reads.session(project_id=project, user_id=body.user_id)
    view = await read_conversation(
        session, settings, project, body.user_id, body.conversation_id, body.offset, body.limit
    )
    made: dict[int, list[str]] = {}
    for memory in view.memories:
        for message_id in memory.source_message_ids:
            made.setdefault(message_id, []).append(str(memory.id))
    return Envelope(
        data=MessagesData(
            messages=[
                ConsoleMessage(
                    message_id=m.seq,
                    role=m.role,
                    content=m.content,
                    attachments=attachments(m.content_parts),
                    time=_time(m),
                    memory_ids=made.get(m.id, []),
                )
                for m in view.messages
            ],
            memories=[memory_ref(m) for m in view.memories],
            total=view.total,
        )
    )


@router.post(
    "/memories",
    response_model=Envelope[MemoriesData],
    summary="List a user's memories",
    operation_id="console_memories",
)
async def memories(
    body: MemoriesRequest, project: ProjectDep, reads: ReadsDep, settings: SettingsDep
) -> Envelope[MemoriesData]:
    """A user's memories newest first, archived ones too (unlike get/memory)."""
    session = await reads.session(project_id=project, user_id=body.user_id)
    page = await list_user_memories(
        session,
        settings,
        project,
        body.user_id,
        status=None if body.status == "all" else body.status,
        kind=None if body.kind == "all" else body.kind,
        offset=offset_of(body.page, body.size),
        limit=body.size,
    )
    numbers = await message_numbers(session, project, page.items)
    return Envelope(
        data=MemoriesData(
            memories=[console_memory(m, numbers) for m in page.items],
            total=page.total,
            page=body.page,
            size=body.size,
        )
    )


@router.post(
    "/history",
    response_model=Envelope[HistoryData],
    responses=MEMORY_NOT_FOUND,
    summary="A memory's history",
    operation_id="console_history",
)
async def history(
    body: HistoryRequest, project: ProjectDep, reads: ReadsDep
) -> Envelope[HistoryData]:
    """A memory now, what changed it and when (the newest ``limit`` changes, 50 unless asked),
    and the messages each change came from.

    A deleted memory answers its history with ``memory: null``; an id the project never had
    is 40307.
    """
    session = await reads.session(project_id=project, user_id=None)
    story = await memory_story(session, project, body.memory_id, body.limit)
    numbers = {m.id: m.seq for m in story.messages}
    return Envelope(
        data=HistoryData(
            memory=console_memory(story.memory, numbers) if story.memory is not None else None,
            history=[
                HistoryRow(
                    event=row.event,
                    old_value=row.old_value,
                    new_value=row.new_value,
                    source_message_ids=[numbers[i] for i in row.source_message_ids if i in numbers],
                    task_id=str(row.task_id) if row.task_id else None,
                    time=epoch_ms(row.created_at),
                )
                for row in story.history
            ],
            total=story.changes,
            messages=[
                SourceMessage(
                    message_id=m.seq,
                    conversation_id=m.conversation_id,
                    role=m.role,
                    content=m.content,
                    time=_time(m),
                )
                for m in story.messages
            ],
        )
    )


@router.post(
    "/knowledgebases",
    response_model=Envelope[KnowledgebasesData],
    summary="List knowledge bases",
    operation_id="console_knowledgebases",
)
async def knowledgebases(
    body: KnowledgebasesRequest, project: ProjectDep, reads: ReadsDep, knowledge: KnowledgeDep
) -> Envelope[KnowledgebasesData]:
    """The project's knowledge bases, newest first, with their documents' counts."""
    session = await reads.session(project_id=project, user_id=None)
    found, total = await knowledge.bases_with_counts(
        session, project_id=project, offset=body.offset, limit=body.limit
    )
    return Envelope(
        data=KnowledgebasesData(
            knowledgebases=[
                KnowledgebaseSummary(
                    id=c.base.id.hex,
                    name=c.base.name,
                    description=c.base.description,
                    files=c.files,
                    running=c.running,
                    failed=c.failed,
                    passages=c.passages,
                    create_time=epoch_ms(c.base.created_at),
                )
                for c in found
            ],
            total=total,
        )
    )


@router.post(
    "/passages",
    response_model=Envelope[PassagesData],
    responses={**NOT_FOUND, **NOT_LINKED},
    summary="List a document's passages",
    operation_id="console_passages",
)
async def passages(
    body: PassagesRequest, project: ProjectDep, reads: ReadsDep, knowledge: KnowledgeDep
) -> Envelope[PassagesData]:
    """A knowledge-base document and its passages in the document's order, as search finds
    them. A document id nobody holds is 40001; another project's is 50123."""
    session = await reads.session(project_id=project, user_id=None)
    view = await knowledge.file_passages(
        session, project_id=project, file_id=body.file_id, offset=body.offset, limit=body.limit
    )
    return Envelope(
        data=PassagesData(
            file=file_detail(view.file),
            passages=[
                ConsolePassage(
                    id=p.id.hex, position=p.position, page=p.page, heading=p.heading, text=p.text
                )
                for p in view.passages
            ],
            total=view.total,
        )
    )
