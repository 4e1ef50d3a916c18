"""What a fast add sends to Postgres: the repeat check before the embedding runs outside a
transaction, the advisory locks are one statement, the task is written once (its INSERT holds
what its fine job needs), and a repeat is answered with one statement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.support.api import Api
from tests.support.service import ServiceThread

MESSAGES = [
    {"role": "user", "content": "我周末常去香山爬山"},
    {"role": "assistant", "content": "好的，记住了"},
    {"role": "user", "content": "I also play the piano on Sundays"},
]


@contextmanager
def statements(service: ServiceThread) -> Iterator[list[tuple[bool, str]]]:
    """Each statement the service's engine sends meanwhile, with whether it ran outside a
    transaction (autocommit: no BEGIN before it); the background work's (the job queue's poll,
    a key's last-use write) left out."""
    sent: list[tuple[bool, str]] = []
    engine = service.runtime.database.engine.sync_engine

    def record(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        text = " ".join(statement.split())
        if " jobs" not in text and "api_keys" not in text:
            sent.append((bool(connection.connection.dbapi_connection.autocommit), text))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_fast_add_and_its_repeat_in_few_round_trips(service: ServiceThread, api_key: str) -> None:
    body = {"user_id": "rt", "conversation_id": "c1", "messages": MESSAGES, "async_mode": False}
    with Api(service.base_url, api_key) as api, statements(service) as sent:
        api.ok("/add/message", body | {"allow_memory_view": ["detail_factual"]})
        added = list(sent)
        sent.clear()
        api.ok("/add/message", body | {"allow_memory_view": ["detail_factual"]})
        repeat = list(sent)

    (outside, first), *inside = added
    assert outside
    assert first.startswith("SELECT tasks.")
    assert not any(autocommit for autocommit, _ in inside)
    assert sum("pg_advisory" in text for _, text in inside) == 1
    assert not any(text.startswith("UPDATE tasks") for _, text in inside)
    [task_insert] = [text for _, text in inside if text.startswith("INSERT INTO tasks")]
    assert "memory_views" in task_insert
    assert len(added) <= 9, added
    [(outside, text)] = repeat
    assert outside
    assert text.startswith("SELECT tasks.")
