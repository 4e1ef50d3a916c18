"""The Cloud's error codes where this service meets the same case: 40012 (relativity), 40013
(messages too long), 40309 (a key's input tokens a minute), 50143 / 50144 (a memory or an
add's messages the database refused)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memos_server.services.rate_limit import InputTokenLimiter
from tests.support.api import Api
from tests.support.database import execute, new_api_key
from tests.support.service import ServiceThread

USER = {"user_id": "codes-u", "conversation_id": "c"}
SEARCH = {"user_id": "codes-u", "query": "酒店"}


def add(texts: list[str]) -> dict[str, object]:
    return {**USER, "messages": [{"role": "user", "content": t} for t in texts]}


@pytest.mark.parametrize("value", [1.5, -0.1, "high", [0.5], True])
@pytest.mark.parametrize("path", ["/search/memory", "/chat"])
def test_a_bad_relativity_is_40012(api: Api, path: str, value: object) -> None:
    body = {**SEARCH, **({"conversation_id": "c"} if path == "/chat" else {}), "relativity": value}
    assert api.fails(path, body, 400, 40012).startswith("relativity must be a number from 0 to 1")


def test_too_many_or_too_long_messages_are_40013(api: Api) -> None:
    assert "at most 200" in api.fails("/add/message", add(["hi"] * 201), 413, 40013)
    assert "messages[1].content" in api.fails(
        "/add/message", add(["好", "长" * 32_001]), 413, 40013
    )
    # A feedback or a query is not messages: still 40305.
    api.fails("/search/memory", {**SEARCH, "query": "q" * 4_001}, 413, 40305)


def test_a_key_over_its_input_tokens_a_minute_is_40309(
    service: ServiceThread, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service.runtime, "input_tokens", InputTokenLimiter(per_minute=60))
    with (
        Api(service.base_url, new_api_key(pg_url)) as busy,
        Api(service.base_url, new_api_key(pg_url)) as other,
    ):
        busy.ok("/add/message", add(["我" * 50]))  # 50 of its 60 tokens
        refused = busy.post("/add/message", add(["再来二十个字" * 4]))  # 24 more
        message = busy.error_of(refused, 429, 40309)
        assert "MEMOS_LIMITS__INPUT_TOKENS_PER_MINUTE" in message
        assert int(refused.headers["Retry-After"]) >= 1
        busy.fails("/add/feedback", {**USER, "feedback_content": "不" * 30}, 429, 40309)
        busy.ok("/search/memory", SEARCH)  # a search sends no text to keep: not counted
        other.ok("/add/message", add(["我" * 50]))  # each key has its own minute


@pytest.fixture
def refusing_triggers(pg_url: str) -> Iterator[None]:
    """Postgres refuses, for reasons of its own (a raise in a trigger, SQLSTATE P0001), any
    message or memory that says REFUSE-ME: a failure that is neither an outage nor bad input."""
    execute(
        pg_url,
        "CREATE OR REPLACE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF NEW::text LIKE '%REFUSE-ME%' THEN RAISE EXCEPTION 'refused'; END IF; "
        "RETURN NEW; END $$",
    )
    for table in ("messages", "memories"):
        execute(
            pg_url,
            f"CREATE TRIGGER refuse_marked BEFORE INSERT OR UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_marked()",
        )
    try:
        yield
    finally:
        for table in ("messages", "memories"):
            execute(pg_url, f"DROP TRIGGER refuse_marked ON {table}")
        execute(pg_url, "DROP FUNCTION refuse_marked()")


@pytest.mark.usefixtures("refusing_triggers")
def test_refused_writes_are_50144_for_messages_and_50143_for_memories(api: Api) -> None:
    api.fails("/add/message", add(["REFUSE-ME 我的消息"]), 500, 50144)
    stored = api.ok("/get/message", USER)["message_detail_list"]
    assert all("REFUSE-ME" not in m["content"] for m in stored)
    api.ok("/add/message", add(["一条正常的消息"]))
    [memory] = api.ok("/get/memory", {"user_id": "codes-u", "include_preference": False})[
        "memory_detail_list"
    ][:1]
    api.fails("/update/memory", {"memory_id": memory["id"], "content": "REFUSE-ME"}, 500, 50143)
    api.fails("/add/feedback", {**USER, "feedback_content": "REFUSE-ME 我改主意了"}, 500, 50143)
