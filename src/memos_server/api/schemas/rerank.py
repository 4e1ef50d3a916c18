"""rerank."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from memos_server.api.schemas.common import NOT_BLANK, TopLevelRequest


class RerankRequest(TopLevelRequest):
    query: str = Field(
        min_length=1, pattern=NOT_BLANK, description="What the documents are ranked against."
    )
    documents: list[str] = Field(min_length=1, description="The texts to rank.")
    top_n: int | None = Field(default=None, ge=1, description="Only the best N; all if omitted.")
    model: str | None = Field(
        default=None,
        description="Accepted and ignored: the configured reranker, or the "
        "embedding model, scores.",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "用户有什么兴趣爱好",
                    "documents": ["用户喜欢打羽毛球", "用户在杭州做后端开发", "用户下周三去北京"],
                },
                {
                    "query": "What are the user's hobbies?",
                    "documents": ["User likes playing badminton", "User lives in Hangzhou"],
                    "top_n": 1,
                },
            ]
        }
    )


class RerankDocument(BaseModel):
    text: str


class RerankResult(BaseModel):
    index: int = Field(description="The document's place in the request's `documents`.")
    document: RerankDocument
    relevance_score: float = Field(description="Higher is more relevant; see `scored_by`.")


class RerankUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class RerankData(BaseModel):
    id: str
    model: str = Field(description="The reranker's model, or the embedding model's name.")
    scored_by: Literal["reranker", "embedding"] = Field(
        description="`reranker`: the configured reranker scored; `embedding`: none is "
        "configured, so the score is the embedding model's cosine of query and document."
    )
    usage: RerankUsage
    results: list[RerankResult] = Field(description="Best first, cut to `top_n`.")
