"""search/memory."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.api.deps import KnowledgeDep, ProjectDep, ReadsDep, SearchDep, SettingsDep
from memos_server.api.exact_numbers import ExactNumbersRoute
from memos_server.api.memory_items import memory_fields, preference_fields
from memos_server.api.responses import ERRORS
from memos_server.api.schemas.common import Envelope, epoch_ms
from memos_server.api.schemas.search import (
    SEARCH_ANSWER_EXAMPLES,
    MemoryDetail,
    PassageDetail,
    PreferenceDetail,
    SearchMemoryData,
    SearchMemoryRequest,
)
from memos_server.filters import parse_search_filter
from memos_server.services.conversations import message_numbers
from memos_server.services.knowledge.bases import KnowledgeService
from memos_server.services.search.engine import Scored, SearchQuery
from memos_server.services.search.instructions import full_instruction, instruction
from memos_server.services.search.passages import ScoredPassage
from memos_server.settings import Settings
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
    return SearchQuery(
        user_id=body.user_id,
        query=body.query,
        memory_limit=body.memory_limit_number,
        include_preference=body.include_preference,
        preference_limit=body.preference_limit_number,
        min_relativity=body.relativity,
        agent_id=body.agent_id,
        where=where.user,
        knowledgebase_ids=tuple(bases),
        passage_limit=passage_limit if bases else 0,
        passage_where=where.knowledgebase,
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
) -> Envelope[SearchMemoryData]:
    """The user's fact and preference memories most relevant to the query, best first; with
    ``knowledgebase_ids``, the best passages of those knowledge bases after them."""
    session = await reads.session(project_id=project, user_id=body.user_id)
    result = await search.search(
        session,
        project_id=project,
        query=await search_query(session, body, project, knowledge, settings),
    )
    numbers = await message_numbers(session, project, [s.memory for s in result.facts])
    language = detect_language([body.query])
    budget = settings.search.instruction_max_tokens
    return Envelope(
        data=SearchMemoryData(
            memory_detail_list=[
                *(memory_detail(s, numbers) for s in result.facts),
                *(passage_detail(p) for p in result.passages),
            ],
            preference_detail_list=[preference_detail(s) for s in result.preferences],
            preference_note=result.preference_note,
            instruction=(
                instruction(body.query, result, language, budget)
                if body.return_instruction
                else None
            ),
            full_instruction=(
                full_instruction(body.query, result, language, budget, datetime.now(UTC))
                if body.return_full_instruction
                else None
            ),
        )
    )
