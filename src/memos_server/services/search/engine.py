"""search/memory: the user's memories most relevant to the query, per type.

Two channels, each proposing ``candidates`` memories: the vector channel (cosine similarity of
the query's embedding, an exact scan of the user's rows) and the full-text channel (BM25 over
jieba / stemmed-English tokens, OR semantics). They are fused by a weighted sum (default) or by
reciprocal rank; on LoCoMo the weighted sum wins (see BENCHMARKS.md). ``relativity`` is a 0..1
score a client can threshold: the vector share is the cosine similarity, the text share the part
of the query's (IDF-weighted) words the memory holds.

Each kind is ranked on its own (facts, preferences, and when asked events, tool trajectories,
skills), with its own limit; with ``total_limit`` (search/memory's ``include_memory_view``) the
kinds' results are then ranked together and cut to that total, as the Cloud documents.

A user's feedback ("I don't live in Beijing anymore") is a memory that names the memories it
corrects; whenever search returns one of those, the feedback comes directly above it, so a reader
meets the correction before what it corrects.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.embedding import Embedder, TextKind
from memos_server.embedding.levels import levels_of
from memos_server.errors import RequiredFieldEmpty
from memos_server.filters import Filter
from memos_server.prompts.labels import PREFERENCE_NOTES
from memos_server.rerank import Reranker
from memos_server.services.limits import check_ids, check_query, check_result_limit
from memos_server.services.search.fusion import bm25, fuse, telling_words, vector_weight
from memos_server.services.search.ordering import Scored as Scored
from memos_server.services.search.ordering import (
    best_of_all,
    newer_siblings_first,
    one_copy_each,
    place_corrections,
)
from memos_server.services.search.passages import (
    OpenSession,
    PassagesWanted,
    ScoredPassage,
    passages_apart,
    ranked_passages,
)
from memos_server.services.search.relevance import across_languages, default_floor
from memos_server.services.search.vector_indexes import IndexCatalog
from memos_server.settings import Settings
from memos_server.storage.database import release_connection
from memos_server.storage.repositories.memory_scan import MemoryScan, Scanned
from memos_server.storage.repositories.memory_scopes import Counts, Hit, HnswScan, Scope
from memos_server.storage.repositories.vector_indexes import UserKind
from memos_server.storage.vocabulary import MemoryKind
from memos_server.text.language import detect_language
from memos_server.text.time_words import period_of
from memos_server.text.tokens import query_tokens


@dataclass(frozen=True)
class SearchQuery:
    user_id: str | None  # None: the agent's memories of every user (``agent_id`` alone)
    query: str
    memory_limit: int = 6
    include_preference: bool = True
    preference_limit: int = 6
    min_relativity: float | None = None  # None: the default floor (services/search/relevance.py)
    agent_id: str | None = None
    where: Filter | None = None
    # Knowledge bases whose passages to return too (already checked to be the project's).
    knowledgebase_ids: tuple[uuid.UUID, ...] = ()
    passage_limit: int = 0
    # The filter's ``knowledgebase`` part (``filters.parse_search_filter``): which passages.
    passage_where: Filter | None = None
    # The other kinds: 0 leaves a kind out.
    event_limit: int = 0
    tool_limit: int = 0
    skill_limit: int = 0
    # Set: every kind's results ranked together, at most this many in all.
    total_limit: int | None = None

    def limits(self) -> dict[str, int]:
        """Each kind's limit, the kinds asked for only."""
        limits: dict[str, int] = {
            MemoryKind.FACT: self.memory_limit,
            MemoryKind.PREFERENCE: self.preference_limit if self.include_preference else 0,
            MemoryKind.EVENT: self.event_limit,
            MemoryKind.TOOL: self.tool_limit,
            MemoryKind.SKILL: self.skill_limit,
        }
        return {kind: limit for kind, limit in limits.items() if limit > 0}


# Longer queries are segmented in a thread: a sentence takes well under a millisecond, less than
# the hop to a thread and back; a page of text takes several.
INLINE_QUERY_CHARS = 200
# How long a search waits for its query's embedding still holding its connection.
BRIEF_WAIT_S = 0.05


async def segmented(text: str) -> list[str]:
    """The query's words (``text.tokens.query_tokens``), long ones off the event loop."""
    if len(text) <= INLINE_QUERY_CHARS:
        return query_tokens(text)
    return await asyncio.to_thread(query_tokens, text)


async def _query_vector(
    embedding: asyncio.Future[list[list[float]]], session: AsyncSession
) -> list[float]:
    """The query's embedding: a few milliseconds, waited for on the search's connection; longer
    means the model is busy (a long add's batches go first): waited for holding none."""
    if not embedding.done():
        await asyncio.wait({embedding}, timeout=BRIEF_WAIT_S)
        if not embedding.done():
            await release_connection(session)
    return (await embedding)[0]


@dataclass(frozen=True)
class SearchResult:
    facts: list[Scored]
    preferences: list[Scored]
    preference_note: str = ""
    passages: list[ScoredPassage] = field(default_factory=list)
    events: list[Scored] = field(default_factory=list)
    tools: list[Scored] = field(default_factory=list)
    skills: list[Scored] = field(default_factory=list)
    # The numbers of the messages the memories were made from, by message id, as far as they
    # were read with them (``conversations.message_numbers`` reads the rest).
    numbers: dict[int, int] = field(default_factory=dict)


async def search_memories(
    session: AsyncSession,
    embedder: Embedder,
    settings: Settings,
    project_id: uuid.UUID,
    query: SearchQuery,
    reranker: Reranker | None = None,
    indexes: IndexCatalog | None = None,
    own_session: OpenSession | None = None,
    *,
    single_scan: bool = False,
) -> SearchResult:
    """``own_session``: opens a session for the knowledge-base passages' queries, run beside
    the memories' (without it they run after them, on ``session``). ``single_scan``: both
    channels in one pass over the rows once the query's embedding is in (the least CPU: what
    ``SearchService`` asks for while other searches are under way), else the full-text channel
    beside the embedding, then the vector channel (the least latency)."""
    if query.user_id is None and query.agent_id is None:
        raise RequiredFieldEmpty("user_id is required (or agent_id, for one agent's memories)")
    check_ids(settings.limits, query.user_id, agent_id=query.agent_id)
    check_query(settings.limits, query.query)
    check_result_limit(settings.limits, "memory_limit_number", query.memory_limit)
    check_result_limit(settings.limits, "preference_limit_number", query.preference_limit)
    check_result_limit(settings.limits, "knowledgebase_limit_number", query.passage_limit)
    check_result_limit(settings.limits, "tool_memory_limit_number", query.tool_limit)
    check_result_limit(settings.limits, "skill_limit_number", query.skill_limit)
    passages_wanted = bool(query.knowledgebase_ids) and query.passage_limit > 0
    period = period_of(query.query, zone=settings.search.zone())
    channels = settings.search.channels
    # The model embeds the query in its own thread while Postgres answers the full-text side.
    embedding = (
        asyncio.ensure_future(embedder.embed([query.query], TextKind.QUERY))
        if channels != "text"
        else None
    )

    async def own_index(kind: str) -> HnswScan | None:
        # A filter or an agent narrows the rows below what the user's index holds, and memories
        # shared into the named bases lie outside it: exact scan.
        if (
            indexes is not None
            and query.user_id is not None
            and query.agent_id is None
            and query.where is None
            and not query.knowledgebase_ids
            and await indexes.indexed(session, UserKind(project_id, query.user_id, kind))
        ):
            return HnswScan(indexes.dimension, indexes.ef_search)
        return None

    try:
        tokens = await segmented(query.query) if channels != "vector" else []
        # Memories shared into the named bases (allow_knowledgebase_ids) are in scope too.
        scope = Scope(
            project_id, query.user_id, query.agent_id, query.where, query.knowledgebase_ids
        )
        repository = MemoryScan(session)
        limits = query.limits()
        pool = {kind: max(settings.search.candidates, limit) for kind, limit in limits.items()}
        frequencies = settings.search.common_word_share < 1
        # Both channels over an exact scan of every kind: one pass over the rows (``memory_scan``).
        scanned: Scanned | None = None
        counts: Counts | None
        if (
            single_scan
            and embedding is not None
            and tokens
            and limits
            and all([await own_index(kind) is None for kind in limits])
        ):
            vector = await _query_vector(embedding, session)
            scanned = await repository.scanned(scope, pool, tokens, vector, frequencies=frequencies)
            lexical, counts = scanned.lexical, scanned.counts
        else:
            # Else the full-text channel and the counts first, beside the embedding; kinds with
            # nothing in scope need no vector channel.
            lexical, counts = (
                await repository.lexical_and_counts(scope, pool, tokens, frequencies=frequencies)
                if limits
                else ({}, None)
            )
        documents = counts.memories if counts else {}
        limits = {kind: limit for kind, limit in limits.items() if documents[kind]}
        needs_vector = bool(limits) or passages_wanted
        if scanned is None:
            vector = (
                await _query_vector(embedding, session)
                if embedding is not None and needs_vector
                else []
            )
    finally:
        if embedding is not None and not embedding.done():
            embedding.cancel()

    language = detect_language([query.query])
    floor = (
        query.min_relativity
        if query.min_relativity is not None
        else default_floor(
            settings.search,
            embedder.name,
            language,
            vector_weight(settings.search, channels != "text", bool(tokens)),
        )
    )

    async def vector_channel() -> tuple[dict[str, list[Hit]], dict[uuid.UUID, float]]:
        """Each kind's vector hits, and the similarity of every full-text hit: one statement
        for the kinds scanned exactly, one more per kind walked in the user's own index."""
        if not vector or not limits:
            return {}, {}
        walked = {kind: await own_index(kind) for kind in limits}
        scanned = {kind: pool[kind] for kind, hnsw in walked.items() if hnsw is None}
        lexical_ids = [hit.id for kind in limits for hit in lexical[kind]]
        nearest, similar = (
            await repository.nearest_and_similar(scope, scanned, vector, lexical_ids)
            if scanned or lexical_ids
            else ({}, {})
        )
        for kind, hnsw in walked.items():
            if hnsw is not None:
                nearest[kind] = await repository.nearest_hits(scope, kind, vector, pool[kind], hnsw)
        return nearest, similar

    recency = settings.search.recency_lift > 0 and language in settings.search.recency_languages
    # Memories in the other language are scored on this one's scale, so more candidates than
    # the limit are looked at: one may rise above them.
    lifts = (
        channels != "text"
        and settings.search.fusion == "weighted"
        and language in levels_of(embedder.name).other_language
    )
    numbers: dict[int, int] = {}

    # An agent's memories of every user: a group add's copies, one a member, kept once.
    copies = query.user_id is None

    def fused(kind: str) -> list[tuple[uuid.UUID, float]]:
        """The kind's candidates from both channels, fused and cut to what the later steps
        (recency, the reranker) look at."""
        by_vector = nearest.get(kind, [])
        held = counts.words.get(kind, {}) if counts is not None else {}
        words = telling_words(tokens, held, documents[kind], settings.search.common_word_share)
        by_text = bm25(words, lexical[kind], documents[kind])
        keep = keeps[kind]
        return fuse(
            by_vector,
            by_text,
            settings.search,
            max(keep, settings.search.recency_candidates) if recency or lifts or copies else keep,
            period,
            text_asked=bool(tokens),
            cosines=similar if by_vector else {},
        )

    async def ranked(kind: str, candidates: list[tuple[uuid.UUID, float]]) -> list[Scored]:
        limit, keep = limits[kind], keeps[kind]
        found = [Scored(memories[i], score) for i, score in candidates if i in memories]
        if copies:
            found = one_copy_each(found)
        if lifts:
            weight = vector_weight(settings.search, bool(nearest.get(kind)), bool(tokens))
            found = across_languages(found, embedder.name, language, weight)
        if recency:
            found = newer_siblings_first(found, vectors, settings.search)
        found = found[:keep]
        if reranker is not None and found:
            await release_connection(session)
            scores = await reranker.scores(query.query, [s.memory.memory_value for s in found])
            order = sorted(range(len(found)), key=lambda i: scores[i], reverse=True)
            found = [found[i] for i in order][:limit]
        if counts is not None and counts.feedback[kind] and found:
            ids = [s.memory.id for s in found]
            found = place_corrections(found, await repository.corrections(scope, kind, ids), limit)
        return [s for s in found if s.relativity >= floor]

    wanted = PassagesWanted(
        query.knowledgebase_ids, query.passage_limit, vector, tokens, floor, query.passage_where
    )
    # The passages' queries run beside the memories' on a connection of their own, if given one.
    beside = (
        asyncio.ensure_future(passages_apart(own_session, settings, wanted, indexes))
        if passages_wanted and own_session is not None
        else None
    )
    try:
        keeps = {
            kind: max(limit, settings.search.reranker_candidates) if reranker else limit
            for kind, limit in limits.items()
        }
        nearest, similar = (scanned.nearest, scanned.similar) if scanned else await vector_channel()
        candidates = {kind: fused(kind) for kind in limits}
        rows = await repository.found(
            [i for kind in limits for i, _ in candidates[kind]], vectors=recency, numbers=True
        )
        memories, vectors = rows.memories, rows.vectors
        numbers.update(rows.numbers)
        found: dict[str, list[Scored]] = {
            kind: await ranked(kind, candidates[kind]) if kind in limits else []
            for kind in MemoryKind
        }
        if query.total_limit is not None:
            found = best_of_all(found, query.total_limit)
        if beside is not None:
            if not beside.done():
                # The passages' session may be waiting for the very connection this one holds
                # (every connection of the pool held by searches waiting for their passages).
                await release_connection(session)
            passages = await beside
        elif passages_wanted:
            passages = await ranked_passages(session, settings, wanted, indexes)
        else:
            passages = []
    finally:
        if beside is not None and not beside.done():
            beside.cancel()
    note = PREFERENCE_NOTES[language] if found[MemoryKind.PREFERENCE] else ""
    return SearchResult(
        facts=found[MemoryKind.FACT],
        preferences=found[MemoryKind.PREFERENCE],
        preference_note=note,
        passages=passages,
        events=found[MemoryKind.EVENT],
        tools=found[MemoryKind.TOOL],
        skills=found[MemoryKind.SKILL],
        numbers=numbers,
    )
