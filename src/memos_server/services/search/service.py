"""The search service a process builds once: search/memory's, chat's recall and MCP's
``search_memory`` (``engine.search_memories`` does the searching).

A search reads both channels either overlapped or in one pass (``engine.search_memories``'s
``single_scan``): a lone search overlaps its full-text statement with its query's embedding
(the lowest latency while the cores are idle); with other searches in flight, the one pass
over the user's rows costs a fifth less Postgres CPU, which is what the cores are short of then
(``MEMOS_SEARCH__SINGLE_SCAN_FROM``, docs/search.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from memos_server.embedding import Embedder
from memos_server.rerank import Reranker
from memos_server.services.search.engine import SearchQuery, SearchResult, search_memories
from memos_server.services.search.passages import OpenSession
from memos_server.services.search.vector_indexes import IndexCatalog
from memos_server.settings import Settings


def beside(session: AsyncSession) -> OpenSession | None:
    """Opens a second session on the database ``session`` reads (the primary or a replica), for
    the knowledge-base passages' queries; None when it is bound to one connection."""
    engine = session.bind
    if not isinstance(engine, AsyncEngine):
        return None
    return lambda: AsyncSession(engine, expire_on_commit=False)


class SearchService:
    """search/memory (and chat's recall), built once per process with what a search uses."""

    def __init__(
        self,
        *,
        embedder: Callable[[], Embedder],
        settings: Settings,
        reranker: Reranker | None = None,
        indexes: IndexCatalog | None = None,
    ) -> None:
        """``embedder``: the current model, asked at each search (it refuses once retired)."""
        self._embedder = embedder
        self.settings = settings
        self.reranker = reranker
        self.indexes = indexes
        self._in_flight = 0  # searches of this process under way

    async def search(
        self, session: AsyncSession, *, project_id: uuid.UUID, query: SearchQuery
    ) -> SearchResult:
        """The user's memories (and the named bases' passages) most relevant to the query."""
        self._in_flight += 1
        try:
            return await search_memories(
                session,
                self._embedder(),
                self.settings,
                project_id,
                query,
                self.reranker,
                self.indexes,
                beside(session),
                single_scan=self._in_flight >= self.settings.search.single_scan_from,
            )
        finally:
            self._in_flight -= 1
