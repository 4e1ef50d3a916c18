"""The knowledge-base passages of a search: the named bases' best passages through the same two
channels as memories (a base's own HNSW index when it has one, words through the GIN index) and
the same fusion, on the memories' relativity scale and floor.

They may run on a session of their own, beside the memories' queries (``passages_apart``): the
two wait on Postgres at the same time instead of one after the other.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.filters import Filter
from memos_server.services.search.fusion import bm25, fuse
from memos_server.services.search.vector_indexes import IndexCatalog
from memos_server.settings import Settings
from memos_server.storage.models import KnowledgePassage
from memos_server.storage.repositories.knowledge import KnowledgeRepository
from memos_server.storage.repositories.memory_scopes import HnswScan
from memos_server.storage.repositories.word_stats import word_shares

OpenSession = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass(frozen=True)
class ScoredPassage:
    passage: KnowledgePassage
    file_name: str
    relativity: float  # 0..1, on the memories' scale (same channels, same fusion)


@dataclass(frozen=True)
class PassagesWanted:
    bases: tuple[uuid.UUID, ...]  # already checked to be the project's
    limit: int
    vector: list[float]  # the query's embedding ([] when the vector channel is off)
    tokens: list[str]  # the query's words
    floor: float
    where: Filter | None = None  # the filter's knowledgebase part


async def ranked_passages(
    session: AsyncSession,
    settings: Settings,
    wanted: PassagesWanted,
    indexes: IndexCatalog | None,
    *,
    session_ends: bool = False,
) -> list[ScoredPassage]:
    """The named bases' best passages: one vector and one text query over their rows.
    ``session_ends``: nothing follows on ``session`` (no planner setting needs restoring)."""
    knowledge = KnowledgeRepository(session)
    bases, limit, vector, where = wanted.bases, wanted.limit, wanted.vector, wanted.where
    pool = max(settings.search.candidates, limit)
    indexed = await indexes.indexed_bases(session) if indexes is not None else set()
    hnsw = HnswScan(indexes.dimension, indexes.ef_search) if indexes and indexed else None
    by_vector = (
        await knowledge.nearest(bases, vector, pool, hnsw, indexed, where, restore=not session_ends)
        if vector
        else []
    )
    # Words in most passages weigh next to nothing and cost a scan of the table: left out.
    shares = await word_shares(session, "knowledge_passages", "tsv") if wanted.tokens else {}
    most = settings.knowledge.common_word_share
    words = [t for t in wanted.tokens if shares.get(t, 0.0) <= most]
    hits = await knowledge.lexical(bases, words, pool, where)
    documents = await knowledge.count_passages(bases, where) if hits else 0
    fused = fuse(
        by_vector, bm25(words, hits, documents), settings.search, limit, text_asked=bool(words)
    )
    rows = await knowledge.passages([i for i, _ in fused])
    return [
        ScoredPassage(rows[i][0], rows[i][1], score)
        for i, score in fused
        if i in rows and score >= wanted.floor
    ]


async def passages_apart(
    open_session: OpenSession,
    settings: Settings,
    wanted: PassagesWanted,
    indexes: IndexCatalog | None,
) -> list[ScoredPassage]:
    """``ranked_passages`` on a session of its own (read only: nothing to commit)."""
    async with open_session() as session:
        return await ranked_passages(session, settings, wanted, indexes, session_ends=True)
