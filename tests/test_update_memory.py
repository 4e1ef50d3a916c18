"""update/memory: new text (re-embedded, re-indexed), title, status, history, errors."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.database import new_api_key, project_of, sql
from tests.support.memories import store_preference
from tests.support.service import ServiceThread


def add_fact(api: Api, text: str, user_id: str = "u1") -> dict[str, Any]:
    api.ok(
        "/add/message",
        {
            "user_id": user_id,
            "conversation_id": str(uuid.uuid4()),
            "messages": [{"role": "user", "content": text}],
        },
    )
    listing = api.ok("/get/memory", {"user_id": user_id})["memory_detail_list"]
    fact: dict[str, Any] = next(m for m in listing if text in m["memory_value"])
    return fact


def update(api: Api, memory_id: str, **change: Any) -> dict[str, Any]:
    data = api.ok("/update/memory", {"memory_id": memory_id, **change})
    assert data["success"] is True
    memory: dict[str, Any] = data["memory"]
    return memory


def stored(pg_url: str, memory_id: str) -> dict[str, Any]:
    [row] = sql(
        pg_url,
        "SELECT memory_key, memory_value, status, search_text, embedding::text AS embedding "
        "FROM memories WHERE id = CAST(:id AS uuid)",
        id=memory_id,
    )
    return row


def events(pg_url: str, memory_id: str) -> list[tuple[str, str | None, str | None]]:
    rows = sql(
        pg_url,
        "SELECT event, old_value, new_value FROM memory_history "
        "WHERE memory_id = CAST(:id AS uuid) ORDER BY id",
        id=memory_id,
    )
    return [(r["event"], r["old_value"], r["new_value"]) for r in rows]


def embedding_of(service: ServiceThread, text: str) -> list[float]:
    [vector] = asyncio.run(service.runtime.require_embedder().embed([text]))
    return vector


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_new_text_and_title_are_embedded_indexed_and_recorded(
    api: Api, service: ServiceThread, pg_url: str
) -> None:
    from memos_server.text.tokens import memory_tokens

    fact = add_fact(api, "I live in Beijing.")
    text = "[user viewpoint] The user moved to Shanghai in 2025."

    memory = update(api, fact["id"], content=text, title="Home city")

    assert (memory["id"], memory["memory_value"], memory["memory_key"]) == (
        fact["id"],
        text,
        "Home city",
    )
    assert memory["update_time"] >= fact["update_time"]
    assert memory["create_time"] == fact["create_time"]
    assert api.data_of(api.get(f"/get/memory/{fact['id']}")) == memory
    row = stored(pg_url, fact["id"])
    assert row["search_text"] == memory_tokens("Home city", text)
    assert cosine(json.loads(row["embedding"]), embedding_of(service, text)) > 0.9999
    assert events(pg_url, fact["id"]) == [
        ("ADD", None, fact["memory_value"]),
        ("UPDATE", fact["memory_value"], text),
    ]
    found = api.ok("/search/memory", {"user_id": "u1", "query": "Shanghai"})
    assert [m["id"] for m in found["memory_detail_list"]] == [fact["id"]]


def test_a_new_title_alone_keeps_the_vector(api: Api, pg_url: str) -> None:
    from memos_server.text.tokens import memory_tokens

    fact = add_fact(api, "My dentist appointment is on Monday.")
    before = stored(pg_url, fact["id"])

    memory = update(api, fact["id"], title="Dentist")

    after = stored(pg_url, fact["id"])
    assert memory["memory_key"] == after["memory_key"] == "Dentist"
    assert after["embedding"] == before["embedding"]
    assert after["search_text"] == memory_tokens("Dentist", fact["memory_value"])
    found = api.ok("/search/memory", {"user_id": "u1", "query": "dentist"})
    assert [m["memory_key"] for m in found["memory_detail_list"]] == ["Dentist"]


def test_archiving_hides_a_memory_and_activating_brings_it_back(api: Api, pg_url: str) -> None:
    fact = add_fact(api, "I play tennis every Sunday.")

    assert update(api, fact["id"], status="archived")["status"] == "archived"

    assert (
        api.ok("/search/memory", {"user_id": "u1", "query": "tennis"})["memory_detail_list"] == []
    )
    assert api.ok("/get/memory", {"user_id": "u1"})["total"] == 0
    api.error_of(api.get(f"/get/memory/{fact['id']}"), 404, 40307)

    assert update(api, fact["id"], status="activated")["status"] == "activated"

    assert api.data_of(api.get(f"/get/memory/{fact['id']}"))["status"] == "activated"
    value = fact["memory_value"]
    assert events(pg_url, fact["id"]) == [
        ("ADD", None, value),
        ("ARCHIVE", value, value),
        ("UPDATE", value, value),
    ]


def test_a_repeated_update_writes_one_history_row(api: Api, pg_url: str) -> None:
    fact = add_fact(api, "I drink oat milk.")

    first = update(api, fact["id"], content="The user drinks oat milk.")
    again = update(api, fact["id"], content="The user drinks oat milk.")

    assert again == first
    assert [event for event, _, _ in events(pg_url, fact["id"])] == ["ADD", "UPDATE"]


def test_a_preference_gets_its_new_text(
    api: Api, service: ServiceThread, pg_url: str, api_key: str
) -> None:
    preference_id = store_preference(service, pg_url, api_key, "u1", "prefers window seats")
    text = "prefers aisle seats on long flights"

    memory = update(api, preference_id, content=text)

    assert memory["preference"] == text
    assert "memory_value" not in memory
    assert api.data_of(api.get(f"/get/memory/{preference_id}"))["preference"] == text
    row = stored(pg_url, preference_id)
    assert cosine(json.loads(row["embedding"]), embedding_of(service, text)) > 0.9999
    found = api.ok("/search/memory", {"user_id": "u1", "query": "aisle seats"})
    assert [p["preference"] for p in found["preference_detail_list"]] == [text]


@pytest.mark.parametrize(
    ("change", "status", "code", "message"),
    [
        ({}, 400, 40002, "content, title or status is required"),
        ({"content": None, "title": None, "status": None}, 400, 40002, "is required"),
        ({"status": "deleted"}, 400, 40006, "status"),
        ({"status": "ARCHIVED"}, 400, 40006, "status"),
        ({"content": ""}, 400, 40002, "content must not be empty"),
        ({"content": "   "}, 400, 40000, "content: must not be blank"),
        ({"title": 5}, 400, 40000, "title"),
        ({"content": "x" * 32_001}, 413, 40305, "content is longer than"),
    ],
)
def test_bad_changes_get_clear_errors_and_change_nothing(
    api: Api, pg_url: str, change: dict[str, Any], status: int, code: int, message: str
) -> None:
    fact = add_fact(api, "I keep bees.")
    before = stored(pg_url, fact["id"])

    assert message in api.fails("/update/memory", {"memory_id": fact["id"], **change}, status, code)
    assert stored(pg_url, fact["id"]) == before


@pytest.mark.parametrize("memory_id", [str(uuid.uuid4()), "not-a-uuid", "x" * 500])
def test_unknown_or_malformed_ids_are_not_found(api: Api, memory_id: str) -> None:
    message = api.fails("/update/memory", {"memory_id": memory_id, "title": "t"}, 404, 40307)
    assert message.startswith("memory not found")


def test_a_missing_memory_id(api: Api) -> None:
    assert api.fails("/update/memory", {"title": "t"}, 400, 40002) == "memory_id is required"


def test_another_project_cannot_change_my_memory(
    api: Api, service: ServiceThread, pg_url: str, api_key: str
) -> None:
    fact = add_fact(api, "My locker code is 4411.")
    before = stored(pg_url, fact["id"])

    with Api(service.base_url, new_api_key(pg_url)) as other:
        for change in ({"content": "hacked"}, {"status": "archived"}, {"title": "x"}):
            other.fails("/update/memory", {"memory_id": fact["id"], **change}, 404, 40307)

    assert stored(pg_url, fact["id"]) == before
    assert sql(
        pg_url,
        "SELECT count(*) AS n FROM memory_history WHERE project_id <> CAST(:p AS uuid) "
        "AND memory_id = CAST(:id AS uuid)",
        p=project_of(pg_url, api_key),
        id=fact["id"],
    ) == [{"n": 0}]
