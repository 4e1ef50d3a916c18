"""get/memory, get/memory/{id}, delete/memory and update/memory: managing stored memories."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.api.deps import (
    MemoryAdminDep,
    MemoryEditorDep,
    ProfilesDep,
    ProjectDep,
    ReadsDep,
    RuntimeDep,
    SessionDep,
    SettingsDep,
)
from memos_server.api.exact_numbers import ExactNumbersRoute
from memos_server.api.memory_items import (
    event_fields,
    memory_fields,
    owner_fields,
    preference_fields,
    skill_fields,
    sources,
    tool_fields,
)
from memos_server.api.profile_items import profile_detail
from memos_server.api.responses import ERRORS, MEMORY_NOT_FOUND
from memos_server.api.schemas.common import Envelope
from memos_server.api.schemas.memories import (
    DeleteMemoryData,
    DeleteMemoryRequest,
    GetMemoryData,
    GetMemoryRequest,
    StoredAny,
    StoredEvent,
    StoredMemory,
    StoredPreference,
    StoredSkill,
    StoredToolMemory,
    UpdateMemoryData,
    UpdateMemoryRequest,
)
from memos_server.api.schemas.profiles import wants_profiles
from memos_server.services.conversations import message_numbers
from memos_server.services.memory_admin import DeleteQuery, ListQuery, MemoryAdmin, MemoryChange
from memos_server.services.profiles.instances import ProfileService, subject_of
from memos_server.settings import Settings
from memos_server.storage.models import Memory
from memos_server.storage.vocabulary import MemoryKind

router = APIRouter(tags=["memories"], responses=ERRORS, route_class=ExactNumbersRoute)


def stored_memory(m: Memory, numbers: Mapping[int, int]) -> StoredMemory:
    return StoredMemory(**memory_fields(m, numbers), **owner_fields(m))


def stored_preference(m: Memory, numbers: Mapping[int, int]) -> StoredPreference:
    return StoredPreference(**preference_fields(m), sources=sources(m, numbers), **owner_fields(m))


def stored_any(m: Memory, numbers: Mapping[int, int]) -> StoredAny:
    """A memory of any kind in its kind's shape."""
    if m.kind == MemoryKind.PREFERENCE:
        return stored_preference(m, numbers)
    if m.kind == MemoryKind.EVENT:
        return StoredEvent(**event_fields(m, numbers), **owner_fields(m))
    if m.kind == MemoryKind.TOOL:
        return StoredToolMemory(**tool_fields(m, numbers), **owner_fields(m))
    if m.kind == MemoryKind.SKILL:
        return StoredSkill(**skill_fields(m), **owner_fields(m))
    return stored_memory(m, numbers)


async def stored(session: AsyncSession, m: Memory) -> StoredAny:
    numbers = await message_numbers(session, m.project_id, [m])
    return stored_any(m, numbers)


async def memory_listing(
    session: AsyncSession,
    project: uuid.UUID,
    body: GetMemoryRequest,
    *,
    memories: MemoryAdmin,
    profiles: ProfileService,
    settings: Settings,
) -> GetMemoryData:
    """One page of get/memory (and MCP's ``user_profile``): each kind listed, in its shape, and
    the subject's profiles whole."""
    page = await memories.page(
        session,
        project_id=project,
        query=ListQuery(
            user_id=body.user_id,
            agent_id=body.agent_id,
            page=body.page,
            size=body.size,
            filter=body.filter,
            include_preference=body.include_preference,
            include_tool_memory=body.include_tool_memory,
            memory_views=body.include_memory_view,
        ),
    )
    listed = [m for kind in MemoryKind for m in page.of(kind)]
    numbers = await message_numbers(session, project, listed)
    shown = []
    if wants_profiles(body.include_memory_view, default=True):
        subject = subject_of(settings, body.user_id, None if body.user_id else body.agent_id)
        shown = await profiles.of_subject(session, project_id=project, subject=subject)
    return GetMemoryData(
        memory_detail_list=[stored_memory(m, numbers) for m in page.facts],
        preference_detail_list=[stored_preference(m, numbers) for m in page.preferences],
        event_detail_list=[
            StoredEvent(**event_fields(m, numbers), **owner_fields(m))
            for m in page.of(MemoryKind.EVENT)
        ],
        tool_memory_detail_list=[
            StoredToolMemory(**tool_fields(m, numbers), **owner_fields(m))
            for m in page.of(MemoryKind.TOOL)
        ],
        skill_detail_list=[
            StoredSkill(**skill_fields(m), **owner_fields(m)) for m in page.of(MemoryKind.SKILL)
        ],
        profile_detail_list=[profile_detail(p) for p in shown],
        total=page.fact_total,
        preference_total=page.preference_total,
        size=page.size,
        current=page.page,
        pages=page.pages,
    )


@router.post(
    "/get/memory",
    response_model=Envelope[GetMemoryData],
    summary="List memories",
    operation_id="get_memory",
)
async def get_memories(
    body: GetMemoryRequest,
    project: ProjectDep,
    reads: ReadsDep,
    memories: MemoryAdminDep,
    profiles: ProfilesDep,
    settings: SettingsDep,
) -> Envelope[GetMemoryData]:
    """The user's active memories a page at a time, newest first.

    Facts and preferences are paged side by side: page N holds the Nth ``size`` facts and the
    Nth ``size`` preferences, each list newest first (ties broken by id), and empty once that
    list has ended. ``total`` counts the facts, ``preference_total`` the preferences, and
    ``pages`` is enough pages to reach the end of every list. ``size`` above 50 is refused
    (40000), as ``get/message`` refuses a limit above 50. With ``agent_id`` alone (the SDK sends
    one of user_id and agent_id), the agent's memories of every user of the project.
    ``include_tool_memory`` adds the tool memories; ``include_memory_view`` names the lists
    instead (detail_factual, preference, event, tool_memory, skill, profile), each paged the
    same way, and the older flags are ignored.

    ``profile_detail_list`` holds the user's profiles whole (the agent's own, with ``agent_id``
    alone), on every page, unless ``include_memory_view`` leaves ``profile`` out.
    """
    session = await reads.session(project_id=project, user_id=body.user_id)
    return Envelope(
        data=await memory_listing(
            session, project, body, memories=memories, profiles=profiles, settings=settings
        )
    )


@router.get(
    "/get/memory/{memory_id:path}",
    response_model=Envelope[StoredAny],
    responses=MEMORY_NOT_FOUND,
    summary="Get one memory",
    operation_id="get_memory_by_id",
)
async def get_memory_by_id(
    memory_id: str, project: ProjectDep, reads: ReadsDep, memories: MemoryAdminDep
) -> Envelope[StoredAny]:
    """One active memory of the project in its kind's shape: a fact, a preference, an event, a
    tool memory or a skill (40307 when there is none)."""
    session = await reads.session(project_id=project, user_id=None)
    memory = await memories.get(session, project_id=project, memory_id=memory_id)
    return Envelope(data=await stored(session, memory))


@router.post(
    "/delete/memory",
    response_model=Envelope[DeleteMemoryData],
    summary="Delete memories",
    operation_id="delete_memory",
)
async def delete_memory(
    body: DeleteMemoryRequest,
    project: ProjectDep,
    session: SessionDep,
    memories: MemoryAdminDep,
    runtime: RuntimeDep,
) -> Envelope[DeleteMemoryData]:
    """Delete memories for good, in one statement however many (history keeps their text).

    Exactly one selector: ``memory_ids`` (ids not found are skipped: see ``deleted_count``),
    ``user_id`` (all the user's memories), ``agent_id`` (the agent's, of every user) or
    ``filter`` (the project's memories matching it; with ``user_id``, that user's). Archived
    memories are deleted too. ``memory_type`` narrows any of them: a fact type
    (WorkingMemory, LongTermMemory, UserMemory), PreferenceMemory (every preference), or
    explicit_preference / implicit_preference.
    """
    # By ids, an agent or a filter alone: whose memories is not known, so the whole project's.
    runtime.reads.wrote(project, body.user_id)
    deleted = await memories.delete(
        session,
        project_id=project,
        query=DeleteQuery(
            memory_ids=body.memory_ids,
            user_id=body.user_id,
            agent_id=body.agent_id,
            filter=body.filter,
            memory_type=body.memory_type,
        ),
    )
    return Envelope(data=DeleteMemoryData(success=True, deleted_count=deleted))


@router.post(
    "/update/memory",
    response_model=Envelope[UpdateMemoryData],
    responses=MEMORY_NOT_FOUND,
    summary="Update a memory",
    operation_id="update_memory",
)
async def update_memory_route(
    body: UpdateMemoryRequest,
    project: ProjectDep,
    session: SessionDep,
    memories: MemoryEditorDep,
    runtime: RuntimeDep,
) -> Envelope[UpdateMemoryData]:
    """Change a memory's text (re-embedded), title (memory_key) or status, keeping its id.

    Reaches archived memories too (``status: activated`` brings one back). Each change writes
    a history row (UPDATE, or ARCHIVE when it archives); repeating an update changes nothing.
    """
    memory = await memories.update(
        session,
        project_id=project,
        change=MemoryChange(
            memory_id=body.memory_id, content=body.content, title=body.title, status=body.status
        ),
    )
    runtime.reads.wrote(project, memory.user_id)
    return Envelope(data=UpdateMemoryData(success=True, memory=await stored(session, memory)))
