"""rerank: documents ordered by relevance to a query; without a configured reranker, by the
embedding model's cosine (the answer says which). GET /ping answers in the envelope."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from memos_server.rerank.http_endpoint import HttpReranker
from tests.support.api import Api
from tests.support.service import ServiceThread
from tests.test_time_and_rerank import RerankServer

HOBBIES_ZH = ["用户在杭州做后端开发", "用户喜欢打羽毛球", "用户下周三要去北京出差"]
HOBBIES_EN = [
    "User is a backend developer in Hangzhou",
    "User loves playing badminton every weekend",
    "User prefers Jiangxiang-flavored baijiu",
]


def rerank(api: Api, query: str, documents: list[str], **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = api.ok("/rerank", {"query": query, "documents": documents, **extra})
    return data


def test_chinese_the_relevant_document_comes_first(api: Api) -> None:
    data = rerank(api, "用户有什么运动爱好？", HOBBIES_ZH, model="memos-reranker-0.6b")

    assert data["scored_by"] == "embedding"
    assert data["model"]
    assert data["id"].startswith("rerank-")
    results = data["results"]
    assert sorted(r["index"] for r in results) == [0, 1, 2]
    assert results[0]["index"] == 1
    assert results[0]["document"] == {"text": "用户喜欢打羽毛球"}
    scores = [r["relevance_score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert data["usage"]["prompt_tokens"] > 0
    assert data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"]


def test_english_and_top_n(api: Api) -> None:
    data = rerank(api, "What sports does the user play?", HOBBIES_EN, top_n=1)

    [best] = data["results"]
    assert best["index"] == 1
    assert best["document"]["text"] == HOBBIES_EN[1]


def test_a_query_outranks_nothing_it_is_unrelated_to(api: Api) -> None:
    documents = ["今天的天气预报说有雨", "用户对花生过敏，不能吃花生"]
    data = rerank(api, "用户对什么食物过敏？", documents)

    assert [r["index"] for r in data["results"]] == [1, 0]


@pytest.fixture
def hangzhou_reranker(service: ServiceThread) -> Iterator[RerankServer]:
    """The running service with an HTTP reranker configured, for this test only."""
    server = RerankServer(favourite="在杭州")
    reranker = HttpReranker(server.url, None, "test-reranker", 5.0)
    service.runtime.reranker = reranker
    try:
        yield server
    finally:
        service.runtime.reranker = None
        asyncio.run(reranker.aclose())
        server.stop()


def test_a_configured_reranker_scores(api: Api, hangzhou_reranker: RerankServer) -> None:
    data = rerank(api, "用户有什么运动爱好？", HOBBIES_ZH)

    assert data["scored_by"] == "reranker"
    assert data["model"] == "test-reranker"
    # The reranker's own scores, whatever the embedding model thinks.
    assert [(r["index"], r["relevance_score"]) for r in data["results"]] == [
        (0, 1.0),
        (1, 0.1),
        (2, 0.1),
    ]
    [request] = hangzhou_reranker.requests
    assert request["documents"] == HOBBIES_ZH


def test_limits_and_bad_requests(api: Api) -> None:
    api.fails("/rerank", {"query": "q", "documents": []}, 400, 40002)
    api.fails("/rerank", {"query": "q", "documents": ["a"], "top_n": 0}, 400, 40000)
    api.fails("/rerank", {"query": "", "documents": ["a"]}, 400, 40002)
    api.fails("/rerank", {"query": "q", "documents": ["a"] * 201}, 413, 40305)
    api.fails("/rerank", {"query": "q", "documents": ["长" * 32_001]}, 413, 40305)
    api.fails("/rerank", {"query": "长" * 4_001, "documents": ["a"]}, 413, 40305)


def test_rerank_needs_a_key(service: ServiceThread) -> None:
    response = httpx.post(f"{service.base_url}/rerank", json={"query": "q", "documents": ["a"]})
    assert response.status_code == 401


def test_ping(service: ServiceThread) -> None:
    response = httpx.get(f"{service.base_url}/ping")

    assert response.status_code == 200
    envelope = response.json()
    assert envelope["code"] == 0
    assert envelope["message"] == "ok"
    assert envelope["data"]["status"] == "ok"
