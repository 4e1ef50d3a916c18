"""search/memory."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.api.deps import (
    KnowledgeDep,
    ProfilesDep,
    ProjectDep,
    ReadsDep,
    SearchDep,
    SettingsDep,
)
from memos_server.api.exact_numbers import ExactNumbersRoute
from memos_server.api.memory_items import (
    event_fields,
    memory_fields,
    preference_fields,
    skill_fields,
    tool_fields,
)
from memos_server.api.profile_items import field_details
from memos_server.api.responses import ERRORS
from memos_server.api.schemas.common import Envelope, epoch_ms, wall_clock
from memos_server.api.schemas.profiles import ProfileFieldDetail, wants_profiles
from memos_server.api.schemas.search import (
    SEARCH_ANSWER_EXAMPLES,
    EventDetail,
    MemoryDetail,
    PassageDetail,
    PreferenceDetail,
    SearchMemoryData,
    SearchMemoryRequest,
    SkillDetail,
    ToolMemoryDetail,
)
from memos_server.filters import parse_search_filter
from memos_server.services.conversations import message_numbers, source_messages
from memos_server.services.knowledge.bases import KnowledgeService
from memos_server.services.limits import check_ids
from memos_server.services.memory_views import kinds_of, parse_views
from memos_server.services.profiles.instances import ProfileService, subject_of
from memos_server.services.search.engine import Scored, SearchQuery, SearchResult
from memos_server.services.search.instructions import (
    ContextFormat,
    FactContext,
    full_instruction,
    instruction,
)
from memos_server.services.search.passages import ScoredPassage
from memos_server.settings import Settings
from memos_server.storage.models import Message
from memos_server.storage.vocabulary import MemoryKind
from memos_server.text.language import detect_language

router = APIRouter(tags=["memories"], responses=ERRORS, route_class=ExactNumbersRoute)


def memory_detail(scored: Scored, numbers: Mapping[int, int]) -> MemoryDetail:
    return MemoryDetail(**memory_fields(scored.memory, numbers), relativity=scored.relativity)


def preference_detail(scored: Scored) -> PreferenceDetail:
    return PreferenceDetail(**preference_fields(scored.memory), relativity=scored.relativity)


def passage_detail(scored: ScoredPassage) -> PassageDetail:
    passage = scored.passage
    created = epoch_ms(passage.created_at)
    return PassageDetail(
        id=passage.id.hex,
        memory_key=passage.heading or scored.file_name,
        memory_value=passage.text,
        create_time=created,
        update_time=created,
        relativity=scored.relativity,
        knowledgebase_id=passage.knowledgebase_id.hex,
        file_id=passage.file_id.hex,
        file_name=scored.file_name,
        position=passage.position,
        page=passage.page,
        heading=passage.heading,
    )


def message_details(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """Source messages as get/message shows them, each once, in the order given."""
    seen: set[int] = set()
    details: list[dict[str, Any]] = []
    for m in messages:
        if m.id in seen:
            continue
        seen.add(m.id)
        details.append(
            {
                "message_id": m.seq,
                "role": m.role,
                "content": m.content,
                "conversation_id": m.conversation_id,
                "create_time": wall_clock(m.chat_time or m.created_at),
                "update_time": wall_clock(m.chat_time or m.updated_at),
                "source": m.source,
            }
        )
    return details


async def search_query(
    session: AsyncSession,
    body: SearchMemoryRequest,
    project: uuid.UUID,
    knowledge: KnowledgeService,
    settings: Settings,
) -> SearchQuery:
    """The search a search/memory request asks for (also MCP's ``search_memory``): its filter
    split, its knowledge bases checked to be the project's, each list's limit."""
    where = parse_search_filter(body.filter)
    bases = await knowledge.search_bases(
        session, project_id=project, base_ids=body.knowledgebase_ids or []
    )
    passage_limit = (
        body.knowledgebase_limit_number
        if body.knowledgebase_limit_number is not None
        else settings.knowledge.search_limit
    )
    views = parse_views("include_memory_view", body.include_memory_view)
    if views is None:  # the older flags, each list its own limit
        kinds = None
        limit = body.memory_limit_number
        limits = {
            MemoryKind.FACT: limit,
            MemoryKind.PREFERENCE: body.preference_limit_number if body.include_preference else 0,
            MemoryKind.TOOL: body.tool_memory_limit_number if body.include_tool_memory else 0,
            MemoryKind.SKILL: body.skill_limit_number if body.include_skill else 0,
        }
    else:  # the views named, memory_limit_number results in all (the Cloud's rule)
        kinds = kinds_of(views)
        limits = {kind: body.memory_limit_number for kind in kinds}
    return SearchQuery(
        user_id=body.user_id,
        query=body.query,
        memory_limit=limits.get(MemoryKind.FACT, 0),
        include_preference=bool(limits.get(MemoryKind.PREFERENCE)),
        preference_limit=limits.get(MemoryKind.PREFERENCE, 0),
        event_limit=limits.get(MemoryKind.EVENT, 0),
        tool_limit=limits.get(MemoryKind.TOOL, 0),
        skill_limit=limits.get(MemoryKind.SKILL, 0),
        total_limit=None if kinds is None else body.memory_limit_number,
        min_relativity=body.relativity,
        agent_id=body.agent_id,
        where=where.user,
        knowledgebase_ids=tuple(bases),
        passage_limit=passage_limit if bases else 0,
        passage_where=where.knowledgebase,
    )


async def profile_fields(
    session: AsyncSession,
    body: SearchMemoryRequest,
    project: uuid.UUID,
    profiles: ProfileService,
    settings: Settings,
) -> list[ProfileFieldDetail]:
    """The user's filled profile fields, when include_memory_view asks for "profile"."""
    if not wants_profiles(body.include_memory_view, default=False):
        return []
    # The user's profile; searching by agent_id alone, the agent's (as get/memory reads it).
    subject = subject_of(settings, body.user_id, None if body.user_id else body.agent_id)
    found = await profiles.of_subject(session, project_id=project, subject=subject)
    return [item for profile in found for item in field_details(profile)]


async def search_data(
    session: AsyncSession,
    project: uuid.UUID,
    body: SearchMemoryRequest,
    result: SearchResult,
    profile_items: list[ProfileFieldDetail],
) -> SearchMemoryData:
    """What a search found, each kind in its list and shape (search/memory, MCP's
    ``search_memory``); the instruction prompts and source messages are the route's."""
    shown = [s.memory for s in (*result.facts, *result.events, *result.tools)]
    numbers = await message_numbers(session, project, shown, result.numbers)
    return SearchMemoryData(
        memory_detail_list=[
            *(memory_detail(s, numbers) for s in result.facts),
            *(passage_detail(p) for p in result.passages),
        ],
        preference_detail_list=[preference_detail(s) for s in result.preferences],
        event_detail_list=[
            EventDetail(**event_fields(s.memory, numbers), relativity=s.relativity)
            for s in result.events
        ],
        tool_memory_detail_list=[
            ToolMemoryDetail(**tool_fields(s.memory, numbers), relativity=s.relativity)
            for s in result.tools
        ],
        skill_detail_list=[
            SkillDetail(**skill_fields(s.memory), relativity=s.relativity) for s in result.skills
        ],
        profile_detail_list=profile_items,
        preference_note=result.preference_note,
    )


@router.post(
    "/search/memory",
    response_model=Envelope[SearchMemoryData],
    summary="Search memories",
    operation_id="search_memory",
    responses={200: {"content": {"application/json": {"examples": SEARCH_ANSWER_EXAMPLES}}}},
)
async def search_memory(
    body: SearchMemoryRequest,
    project: ProjectDep,
    reads: ReadsDep,
    search: SearchDep,
    knowledge: KnowledgeDep,
    settings: SettingsDep,
    profiles: ProfilesDep,
) -> Envelope[SearchMemoryData]:
    """The user's memories most relevant to the query, best first, per kind; with
    ``knowledgebase_ids``, the best passages of those knowledge bases after the facts.

    Without ``include_memory_view``: facts, and preferences, tool memories and skills by
    ``include_preference`` / ``include_tool_memory`` / ``include_skill``, each with its own
    limit. With it: the views named (detail_factual, preference, event, tool_memory, skill),
    the older flags ignored, ``memory_limit_number`` results in all, ranked together; with
    ``profile`` among them, the user's filled profile fields too (not ranked).
    """
    # Context the search does not use, still held to the ids' limit.
    check_ids(settings.limits, conversation_id=body.conversation_id)
    session = await reads.session(project_id=project, user_id=body.user_id)
    result = await search.search(
        session,
        project_id=project,
        query=await search_query(session, body, project, knowledge, settings),
    )
    data = await search_data(
        session,
        project,
        body,
        result,
        await profile_fields(session, body, project, profiles, settings),
    )
    language = detect_language([body.query])
    budget = settings.search.instruction_max_tokens
    context = FactContext(ContextFormat(body.context_format), zone=settings.search.zone())
    if context.format != ContextFormat.MEMORY:
        sources = await source_messages(
            session,
            project,
            [s.memory for s in result.facts],
            settings.search.context_source_messages,
        )
        context = FactContext(context.format, sources, context.zone)
        data.message_detail_list = message_details(
            m for s in result.facts for m in sources[s.memory.id]
        )
    if body.return_instruction:
        data.instruction = instruction(body.query, result, language, budget, context)
    if body.return_full_instruction:
        data.full_instruction = full_instruction(
            body.query, result, language, budget, datetime.now(context.zone), context
        )
    return Envelope(data=data)
