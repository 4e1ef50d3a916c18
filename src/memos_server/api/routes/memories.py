"""get/memory, get/memory/{id}, delete/memory and update/memory: managing stored memories."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from memos_server.api.deps import EmbedderDep, ProjectDep, SessionDep, SettingsDep
from memos_server.api.responses import ERRORS, MEMORY_NOT_FOUND
from memos_server.api.schemas.common import Envelope, epoch_ms, wall_clock
from memos_server.api.schemas.memories import (
    DeleteMemoryData,
    DeleteMemoryRequest,
    GetMemoryData,
    GetMemoryRequest,
    StoredMemory,
    StoredPreference,
    UpdateMemoryData,
    UpdateMemoryRequest,
)
from memos_server.services.memory_admin import (
    DeleteQuery,
    ListQuery,
    MemoryChange,
    delete_memories,
    get_memory,
    list_memories,
    update_memory,
)
from memos_server.storage.models import Memory

router = APIRouter(tags=["memories"], responses=ERRORS)


def _sources(memory: Memory) -> list[dict[str, Any]]:
    return [{"type": "chat", "message_id": i} for i in memory.source_message_ids]


def stored_memory(m: Memory) -> StoredMemory:
    return StoredMemory(
        id=str(m.id),
        memory_key=m.memory_key,
        memory_value=m.memory_value,
        memory_type=m.memory_type,
        memory_time=wall_clock(m.memory_time),
        conversation_id=m.conversation_id,
        status=m.status,
        confidence=m.confidence,
        tags=m.tags,
        create_time=epoch_ms(m.create_time),
        update_time=epoch_ms(m.update_time),
        sources=_sources(m),
        user_id=m.user_id,
        agent_id=m.agent_id,
        app_id=m.app_id,
        info=m.info,
    )


def stored_preference(m: Memory) -> StoredPreference:
    return StoredPreference(
        id=str(m.id),
        preference_type=m.preference_type or "explicit_preference",
        preference=m.memory_value,
        reasoning=m.reasoning or "",
        conversation_id=m.conversation_id,
        status=m.status,
        tags=m.tags,
        create_time=epoch_ms(m.create_time),
        update_time=epoch_ms(m.update_time),
        sources=_sources(m),
        user_id=m.user_id,
        agent_id=m.agent_id,
        app_id=m.app_id,
        info=m.info,
    )


def stored(m: Memory) -> StoredMemory | StoredPreference:
    return stored_preference(m) if m.kind == "preference" else stored_memory(m)


@router.post("/get/memory", response_model=Envelope[GetMemoryData])
async def get_memories(
    body: GetMemoryRequest, project: ProjectDep, session: SessionDep, settings: SettingsDep
) -> Envelope[GetMemoryData]:
    """The user's active memories a page at a time, newest first.

    Facts and preferences are paged side by side: page N holds the Nth ``size`` facts and the
    Nth ``size`` preferences, each list newest first (ties broken by id), and empty once that
    list has ended. ``total`` counts the facts, ``preference_total`` the preferences, and
    ``pages`` is enough pages to reach the end of both. ``size`` above 50 is refused (40000),
    as ``get/message`` refuses a limit above 50. With ``agent_id`` alone (the SDK sends one of
    user_id and agent_id), the agent's memories of every user of the project.
    """
    page = await list_memories(
        session,
        settings,
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
    return Envelope(
        data=GetMemoryData(
            memory_detail_list=[stored_memory(m) for m in page.facts],
            preference_detail_list=[stored_preference(m) for m in page.preferences],
            total=page.fact_total,
            preference_total=page.preference_total,
            size=page.size,
            current=page.page,
            pages=page.pages,
        )
    )


@router.get(
    "/get/memory/{memory_id:path}",
    response_model=Envelope[StoredMemory | StoredPreference],
    responses=MEMORY_NOT_FOUND,
)
async def get_memory_by_id(
    memory_id: str, project: ProjectDep, session: SessionDep
) -> Envelope[StoredMemory | StoredPreference]:
    """One active memory of the project, a fact or a preference (40307 when there is none)."""
    return Envelope(data=stored(await get_memory(session, project, memory_id)))


@router.post("/delete/memory", response_model=Envelope[DeleteMemoryData])
async def delete_memory(
    body: DeleteMemoryRequest, project: ProjectDep, session: SessionDep, settings: SettingsDep
) -> Envelope[DeleteMemoryData]:
    """Delete memories for good, in one statement however many (history keeps their text).

    Exactly one selector: ``memory_ids`` (ids not found are skipped: see ``deleted_count``),
    ``user_id`` (all the user's memories), ``agent_id`` (the agent's, of every user) or
    ``filter`` (the project's memories matching it; with ``user_id``, that user's). Archived
    memories are deleted too. ``memory_type`` narrows any of them: a fact type
    (WorkingMemory, LongTermMemory, UserMemory), PreferenceMemory (every preference), or
    explicit_preference / implicit_preference.
    """
    deleted = await delete_memories(
        session,
        settings,
        project,
        DeleteQuery(
            memory_ids=body.memory_ids,
            user_id=body.user_id,
            agent_id=body.agent_id,
            filter=body.filter,
            memory_type=body.memory_type,
        ),
    )
    await session.commit()
    return Envelope(data=DeleteMemoryData(success=True, deleted_count=deleted))


@router.post(
    "/update/memory", response_model=Envelope[UpdateMemoryData], responses=MEMORY_NOT_FOUND
)
async def update_memory_route(
    body: UpdateMemoryRequest,
    project: ProjectDep,
    session: SessionDep,
    embedder: EmbedderDep,
    settings: SettingsDep,
) -> Envelope[UpdateMemoryData]:
    """Change a memory's text (re-embedded), title (memory_key) or status, keeping its id.

    Reaches archived memories too (``status: activated`` brings one back). Each change writes
    a history row (UPDATE, or ARCHIVE when it archives); repeating an update changes nothing.
    """
    memory = await update_memory(
        session,
        embedder,
        settings,
        project,
        MemoryChange(
            memory_id=body.memory_id, content=body.content, title=body.title, status=body.status
        ),
    )
    await session.commit()
    return Envelope(data=UpdateMemoryData(success=True, memory=stored(memory)))
