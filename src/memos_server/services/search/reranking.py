"""rerank: a client's documents ordered by relevance to its query.

Through the configured reranker (``MEMOS_SEARCH__RERANKER``: a local cross-encoder or an HTTP
``/rerank`` server), or, when none is configured, the embedding model's cosine: the query
embedded as a query, the documents as passages, as search compares them. The answer names which
one scored, since the two scales differ (a cross-encoder's logits or probabilities, a cosine
that for e5 rarely leaves 0.7..0.95).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from memos_server.embedding import Embedder
from memos_server.embedding.base import TextKind
from memos_server.errors import TooLong
from memos_server.rerank import Reranker
from memos_server.services.limits import check_query
from memos_server.settings import Settings


class ScoredBy(StrEnum):
    RERANKER = "reranker"
    EMBEDDING = "embedding"


@dataclass(frozen=True)
class Ranked:
    index: int  # the document's place in the request
    score: float


@dataclass(frozen=True)
class Reranking:
    scored_by: ScoredBy
    model: str
    ranked: list[Ranked]  # best first; equal scores in request order
    tokens: int  # the query with each document, counted by the embedding model's tokenizer


def check_documents(settings: Settings, documents: Sequence[str]) -> None:
    """As many documents as an add takes messages, each as long as a message: the same work
    for the model as an add's windows."""
    limits = settings.limits
    if len(documents) > limits.max_messages_per_add:
        raise TooLong(
            f"documents has {len(documents)} items; at most {limits.max_messages_per_add}"
        )
    for i, document in enumerate(documents):
        if len(document) > limits.max_message_chars:
            raise TooLong(f"documents[{i}] is longer than {limits.max_message_chars} characters")


async def rerank_documents(
    settings: Settings,
    embedder: Embedder,
    reranker: Reranker | None,
    query: str,
    documents: Sequence[str],
    top_n: int | None = None,
) -> Reranking:
    check_query(settings.limits, query)
    check_documents(settings, documents)
    if reranker is not None:
        scores = await reranker.scores(query, documents)
        scored_by, model = ScoredBy.RERANKER, reranker.name
    else:
        [query_vector] = await embedder.embed([query], TextKind.QUERY)
        vectors = await embedder.embed(list(documents), TextKind.PASSAGE)
        # Unit vectors: the dot product is the cosine.
        scores = [sum(q * d for q, d in zip(query_vector, v, strict=True)) for v in vectors]
        scored_by, model = ScoredBy.EMBEDDING, embedder.name
    # Counting is CPU work: off the event loop.
    tokens = await asyncio.to_thread(
        lambda: sum(embedder.count_tokens(query) + embedder.count_tokens(d) for d in documents)
    )
    ranked = sorted(
        (Ranked(i, score) for i, score in enumerate(scores)), key=lambda r: (-r.score, r.index)
    )
    return Reranking(scored_by, model, ranked[:top_n] if top_n is not None else ranked, tokens)
