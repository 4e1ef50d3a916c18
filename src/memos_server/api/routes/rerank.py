"""rerank."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from memos_server.api.deps import EmbedderDep, ProjectDep, RuntimeDep, SettingsDep
from memos_server.api.responses import ERRORS
from memos_server.api.schemas.common import Envelope
from memos_server.api.schemas.rerank import (
    RerankData,
    RerankDocument,
    RerankRequest,
    RerankResult,
    RerankUsage,
)
from memos_server.services.search.reranking import rerank_documents

router = APIRouter(tags=["rerank"], responses=ERRORS)


@router.post(
    "/rerank",
    response_model=Envelope[RerankData],
    summary="Rerank documents",
    operation_id="rerank",
)
async def rerank(
    body: RerankRequest,
    _project: ProjectDep,
    settings: SettingsDep,
    embedder: EmbedderDep,
    runtime: RuntimeDep,
) -> Envelope[RerankData]:
    """The documents ordered by relevance to the query, best first, each with its score.

    Scored by the configured reranker (`scored_by: reranker`) or, when none is configured, by
    the embedding model's cosine of query and document (`scored_by: embedding`). At most as many
    documents as an add takes messages, each as long as a message (413, 40305).
    """
    reranking = await rerank_documents(
        settings, embedder, runtime.reranker, body.query, body.documents, body.top_n
    )
    return Envelope(
        data=RerankData(
            id=f"rerank-{uuid.uuid4().hex}",
            model=reranking.model,
            scored_by=reranking.scored_by.value,
            usage=RerankUsage(prompt_tokens=reranking.tokens, total_tokens=reranking.tokens),
            results=[
                RerankResult(
                    index=r.index,
                    document=RerankDocument(text=body.documents[r.index]),
                    relevance_score=r.score,
                )
                for r in reranking.ranked
            ],
        )
    )
