"""Time words in a query boost memories of that period; an optional reranker reorders results."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from memos_server.rerank.http_endpoint import HttpReranker
from memos_server.text.time_words import period_of
from tests.support.api import Api
from tests.support.service import ServiceThread

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("Where did I travel last year?", "2025-01-01", "2026-01-01"),
        ("我去年去了哪里旅游", "2025-01-01", "2026-01-01"),
        ("上个月我买了什么", "2026-10-01", "2026-11-01"),
        ("what did we eat last month", "2026-10-01", "2026-11-01"),
        ("昨天说了什么", "2026-11-20", "2026-11-21"),
        ("three days ago", "2026-11-18", "2026-11-19"),
        ("上周的会议", "2026-11-09", "2026-11-16"),
        ("今年的计划", "2026-01-01", "2027-01-01"),
        # A day of a week: NOW is a Saturday.
        ("上周六做了什么", "2026-11-14", "2026-11-15"),
        ("上个星期天去了哪", "2026-11-15", "2026-11-16"),
        ("这周三的会", "2026-11-18", "2026-11-19"),
        ("what did I do last Saturday", "2026-11-14", "2026-11-15"),
        ("last monday's call", "2026-11-16", "2026-11-17"),
    ],
)
def test_time_words_name_a_period(query: str, start: str, end: str) -> None:
    period = period_of(query, NOW)
    assert period is not None
    assert (period.start.date().isoformat(), period.end.date().isoformat()) == (start, end)


def test_no_time_words_no_period() -> None:
    assert period_of("What hotel do I like?", NOW) is None


def test_memories_from_the_named_period_rank_first(api: Api) -> None:
    this_year = datetime.now(UTC).year
    for year, city in ((this_year - 1, "Kyoto"), (this_year, "Lisbon")):
        api.ok(
            "/add/message",
            {
                "user_id": "u1",
                "conversation_id": city,
                "messages": [
                    {
                        "role": "user",
                        "content": f"I travelled to {city} for a week.",
                        "chat_time": f"{year}-05-01 10:00:00",
                    }
                ],
            },
        )

    def first(query: str) -> str:
        found = api.ok("/search/memory", {"user_id": "u1", "query": query})
        conversation: str = found["memory_detail_list"][0]["conversation_id"]
        return conversation

    assert first("Where did I travel last year?") == "Kyoto"
    assert first("Where did I travel this year?") == "Lisbon"


class RerankServer:
    """A local rerank endpoint: documents holding ``favourite`` score high."""

    def __init__(self, favourite: str) -> None:
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append(body)
                results = [
                    {"index": i, "relevance_score": 1.0 if favourite in doc else 0.1}
                    for i, doc in enumerate(body["documents"])
                ]
                data = json.dumps({"results": results}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/rerank"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def reranking(service: ServiceThread) -> Iterator[RerankServer]:
    """The running service with an HTTP reranker configured, for this test only."""
    server = RerankServer(favourite="banana")
    reranker = HttpReranker(server.url, "rerank-key", "test-reranker", 5.0)
    service.runtime.services.search.reranker = reranker
    try:
        yield server
    finally:
        service.runtime.services.search.reranker = None
        asyncio.run(reranker.aclose())
        server.stop()


def test_the_reranker_reorders_the_fused_results(api: Api, reranking: RerankServer) -> None:
    for i, text in enumerate(
        ["I love apple pie.", "Apple juice every morning.", "A banana with breakfast."]
    ):
        api.ok(
            "/add/message",
            {
                "user_id": "u1",
                "conversation_id": f"c{i}",
                "messages": [{"role": "user", "content": text}],
            },
        )

    found = api.ok("/search/memory", {"user_id": "u1", "query": "apple", "memory_limit_number": 2})

    values = [m["memory_value"] for m in found["memory_detail_list"]]
    assert values[0] == "user: A banana with breakfast."
    assert len(values) == 2
    [request] = [r for r in reranking.requests if r["query"] == "apple"]
    assert request["model"] == "test-reranker"
    assert len(request["documents"]) == 3  # every fused candidate, not only the top 2
