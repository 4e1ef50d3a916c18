"""Time words in a query boost memories of that period; an optional reranker reorders results."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
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
        # One step further back: the longer word, not the shorter word inside it.
        ("上上周的会议", "2026-11-02", "2026-11-09"),
        ("大前天说了什么", "2026-11-18", "2026-11-19"),
        ("大前年去了哪", "2023-01-01", "2024-01-01"),
        ("上上个月买了什么", "2026-09-01", "2026-10-01"),
        ("昨晚吃了什么", "2026-11-20", "2026-11-21"),
        ("what did we eat last night", "2026-11-20", "2026-11-21"),
        ("the week before last", "2026-11-02", "2026-11-09"),
        ("上上周五去了哪", "2026-11-06", "2026-11-07"),
        # A day of a week: NOW is a Saturday.
        ("上周六做了什么", "2026-11-14", "2026-11-15"),
        ("上个星期天去了哪", "2026-11-15", "2026-11-16"),
        ("这周三的会", "2026-11-18", "2026-11-19"),
        ("what did I do last Saturday", "2026-11-14", "2026-11-15"),
        ("last monday's call", "2026-11-16", "2026-11-17"),
        # A date named in full; a day reaches 3 days either side (told later, named loosely).
        ("What did Gina find on 1 February, 2023?", "2023-01-29", "2023-02-05"),
        ("plans made on February 1st, 2023", "2023-01-29", "2023-02-05"),
        ("2023年2月1日我买了什么", "2023-01-29", "2023-02-05"),
        ("2023-02-01 的会议", "2023-01-29", "2023-02-05"),
        ("Where did I go in May 2023?", "2023-05-01", "2023-06-01"),
        ("我2023年5月去了哪", "2023-05-01", "2023-06-01"),
        ("What did I read in 2019?", "2019-01-01", "2020-01-01"),
        ("2019年读了什么书", "2019-01-01", "2020-01-01"),
        # The named date wins over relative words.
        ("what did I buy last year in March 2024", "2024-03-01", "2024-04-01"),
    ],
)
def test_time_words_name_a_period(query: str, start: str, end: str) -> None:
    period = period_of(query, NOW)
    assert period is not None
    assert (period.start.date().isoformat(), period.end.date().isoformat()) == (start, end)


@pytest.mark.parametrize(
    "query",
    [
        "What hotel do I like?",
        "I walked 2000 steps",  # a bare number is no year
        "what happened on 5 May",  # a day without its year: which year is a guess
        "5月1日吃了什么",
        "on 30 February, 2023",  # no such day
        "2000年以前的事",  # before 2000, not the year 2000
    ],
)
def test_no_time_words_no_period(query: str) -> None:
    assert period_of(query, NOW) is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("What did I buy on 3 March, 2024?", "2024-03"),
        ("Where did I travel in June 2023?", "2023-06"),
        ("2024年3月3日我买了什么", "2024-03"),
        ("我2023年6月去哪旅游了", "2023-06"),
    ],
)
def test_memories_of_a_date_named_in_full_rank_first(api: Api, query: str, expected: str) -> None:
    user = f"dated-{uuid.uuid4().hex}"
    for when, city, chinese in (
        ("2023-06-12 10:00:00", "Lisbon", "里斯本"),
        ("2024-03-04 10:00:00", "Kyoto", "京都"),
        ("2025-01-20 10:00:00", "Oslo", "奥斯陆"),
    ):
        text = f"Bought a new camera and travelled to {city}. 买了新相机，去了{chinese}。"
        api.ok(
            "/add/message",
            {
                "user_id": user,
                "conversation_id": when[:7],
                "messages": [{"role": "user", "content": text, "chat_time": when}],
            },
        )
    found = api.ok("/search/memory", {"user_id": user, "query": query, "relativity": 0})
    assert found["memory_detail_list"][0]["conversation_id"] == expected


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
