"""search/memory: the user's memories closest in meaning to the query, per type."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.embedding import Embedder
from memos_server.services.language import detect_language
from memos_server.services.limits import check_ids, check_query
from memos_server.settings import Settings
from memos_server.storage.models import Memory
from memos_server.storage.repositories.memories import MemoryRepository, Scope


@dataclass(frozen=True)
class SearchQuery:
    user_id: str
    query: str
    memory_limit: int = 6
    include_preference: bool = True
    preference_limit: int = 6
    min_relativity: float = 0.0
    agent_id: str | None = None


@dataclass(frozen=True)
class Scored:
    memory: Memory
    relativity: float  # cosine similarity clipped to 0..1


@dataclass(frozen=True)
class SearchResult:
    facts: list[Scored]
    preferences: list[Scored]
    preference_note: str = ""


PREFERENCE_NOTES = {
    "zh": "请在回答中遵循以上用户偏好：显性偏好是用户明确表达的，必须遵守；隐性偏好是推断的，"
    "在不与用户当前要求冲突时参考。",
    "en": "Respect the user preferences above: explicit ones were stated by the user and must "
    "be followed; implicit ones were inferred and should guide the answer unless the user's "
    "current request says otherwise.",
}


async def search_memories(
    session: AsyncSession,
    embedder: Embedder,
    settings: Settings,
    project_id: uuid.UUID,
    query: SearchQuery,
) -> SearchResult:
    check_ids(settings.limits, query.user_id)
    check_query(settings.limits, query.query)
    [vector] = await embedder.embed([query.query])
    scope = Scope(project_id=project_id, user_id=query.user_id, agent_id=query.agent_id)
    repository = MemoryRepository(session)

    async def ranked(kind: str, limit: int) -> list[Scored]:
        found = await repository.nearest(scope, kind, vector, limit)
        scored = [Scored(memory, min(1.0, max(0.0, similarity))) for memory, similarity in found]
        return [s for s in scored if s.relativity >= query.min_relativity]

    facts = await ranked("fact", query.memory_limit)
    preferences = (
        await ranked("preference", query.preference_limit) if query.include_preference else []
    )
    note = PREFERENCE_NOTES[detect_language([query.query])] if preferences else ""
    return SearchResult(facts=facts, preferences=preferences, preference_note=note)
