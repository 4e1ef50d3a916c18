"""What a search sends to Postgres: its three statements on the driver, and nothing around them
(no BEGIN, no ROLLBACK), counted where asyncpg sends them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.support.api import Api
from tests.support.service import ServiceThread


@contextmanager
def driver_queries(service: ServiceThread) -> Iterator[list[str]]:
    """Each query asyncpg sends on the service's pooled connections meanwhile, the background
    work's (the job queue, a key's last use) left out."""
    sent: list[str] = []

    def logged(record: Any) -> None:
        text = " ".join(record.query.split())
        if " jobs" not in text and "api_keys" not in text:
            sent.append(text)

    def taken(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(logged)

    pool = service.runtime.database.engine.sync_engine.pool
    event.listen(pool, "checkout", taken)
    try:
        yield sent
    finally:
        event.remove(pool, "checkout", taken)


def test_a_search_is_three_statements_and_no_transaction(
    service: ServiceThread, api_key: str
) -> None:
    messages = [
        {"role": "user", "content": "我周末常去香山爬山"},
        {"role": "assistant", "content": "好的，记住了"},
        {"role": "user", "content": "I also play the piano on Sundays"},
    ]
    with Api(service.base_url, api_key) as api:
        api.ok(
            "/add/message",
            {
                "user_id": "rt-search",
                "conversation_id": "c1",
                "messages": messages,
                "async_mode": False,
            },
        )
        api.ok("/search/memory", {"user_id": "rt-search", "query": "周末去哪里"})  # warm
        with driver_queries(service) as sent:
            found = api.ok("/search/memory", {"user_id": "rt-search", "query": "周末去哪里爬山"})

    assert any("香山" in m["memory_value"] for m in found["memory_detail_list"])
    assert not any(q.split()[0].upper() in ("BEGIN", "ROLLBACK", "COMMIT") for q in sent), sent
    assert len(sent) == 3, sent
    assert "ts_match_vq" in sent[0]
    assert "<=>" in sent[1]
    assert sent[2].startswith("SELECT memories.id")
