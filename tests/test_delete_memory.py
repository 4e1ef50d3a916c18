"""delete/memory: each selector, memory_type, history rows, search, scale, isolation."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.conversations import SEED_HOTEL
from tests.support.database import new_api_key, project_of, sql
from tests.support.memories import store_memories
from tests.support.service import ServiceThread


def delete(api: Api, **body: Any) -> int:
    data = api.ok("/delete/memory", body)
    assert data["success"] is True
    count: int = data["deleted_count"]
    return count


def listed(api: Api, user_id: str) -> list[str]:
    data = api.ok("/get/memory", {"user_id": user_id, "size": 50})
    return sorted(
        [m["memory_value"] for m in data["memory_detail_list"]]
        + [p["preference"] for p in data["preference_detail_list"]]
    )


def history(pg_url: str, api_key: str, event: str = "DELETE") -> list[dict[str, Any]]:
    return sql(
        pg_url,
        "SELECT memory_id::text AS memory_id, old_value, new_value FROM memory_history "
        "WHERE project_id = CAST(:p AS uuid) AND event = :e",
        p=project_of(pg_url, api_key),
        e=event,
    )


def store_preferences(pg_url: str, api_key: str, user_id: str, count: int, kind: str) -> None:
    store_memories(
        pg_url,
        api_key,
        user_id,
        count,
        text=kind,
        kind="preference",
        memory_type="UserMemory",
        preference_type=kind,
    )


def test_by_ids_gone_from_search_at_once_with_history(api: Api, pg_url: str, api_key: str) -> None:
    for conversation, text in (("a", "I adopted a cat named Mochi."), ("b", "My cat Mochi is 3.")):
        api.ok(
            "/add/message",
            {
                "user_id": "u1",
                "conversation_id": conversation,
                "messages": [{"role": "user", "content": text}],
            },
        )
    found = api.ok("/search/memory", {"user_id": "u1", "query": "cat Mochi"})
    assert len(found["memory_detail_list"]) == 2
    gone = next(m for m in found["memory_detail_list"] if m["conversation_id"] == "a")

    assert delete(api, memory_ids=[gone["id"], str(uuid.uuid4())]) == 1

    found = api.ok("/search/memory", {"user_id": "u1", "query": "cat Mochi"})
    assert [m["conversation_id"] for m in found["memory_detail_list"]] == ["b"]
    api.error_of(api.get(f"/get/memory/{gone['id']}"), 404, 40307)
    [row] = history(pg_url, api_key)
    assert row == {"memory_id": gone["id"], "old_value": gone["memory_value"], "new_value": None}
    # The SDK retries a call whose answer it lost: the repeat deletes nothing and succeeds.
    assert delete(api, memory_ids=[gone["id"]]) == 0


def test_by_user_takes_everything_of_that_user_only(api: Api, pg_url: str, api_key: str) -> None:
    store_memories(pg_url, api_key, "u1", 3, text="fact")
    store_memories(pg_url, api_key, "u1", 2, text="old", status="archived")
    store_preferences(pg_url, api_key, "u1", 2, "explicit_preference")
    store_memories(pg_url, api_key, "u2", 2, text="kept")

    assert delete(api, user_id="u1") == 7

    assert listed(api, "u1") == []
    assert sql(
        pg_url,
        "SELECT count(*) AS n FROM memories WHERE project_id = CAST(:p AS uuid) AND user_id = 'u1'",
        p=project_of(pg_url, api_key),
    ) == [{"n": 0}]
    assert listed(api, "u2") == ["kept 1", "kept 2"]
    assert len(history(pg_url, api_key)) == 7


def test_the_same_add_sent_again_after_a_deletion_is_stored_again(api: Api) -> None:
    """Within the dedupe window an identical add answers the first add's task; once that add's
    memories are deleted, sending it again stores it again. A repeated Idempotency-Key still
    names its first request."""
    body = {
        "user_id": "fp",
        "conversation_id": "c",
        "messages": [{"role": "user", "content": "删除记忆后重加 re-add after delete"}],
    }
    first = api.ok("/add/message", body)["task_id"]
    assert api.ok("/add/message", body)["task_id"] == first
    assert delete(api, user_id="fp") >= 1
    assert api.ok("/get/memory", {"user_id": "fp"})["memory_detail_list"] == []

    again = api.ok("/add/message", body)["task_id"]

    assert again != first
    [memory] = api.ok("/get/memory", {"user_id": "fp"})["memory_detail_list"]
    assert "re-add after delete" in memory["memory_value"]


def test_a_keyed_add_retried_after_its_memories_went_answers_its_first_task(api: Api) -> None:
    body = {
        "user_id": "fk",
        "conversation_id": "c",
        "messages": [{"role": "user", "content": "带着幂等键的一次添加"}],
    }
    key = {"Idempotency-Key": "add-fk-1"}
    first = Api.data_of(api.http.post("/add/message", json=body, headers=key))["task_id"]
    assert delete(api, user_id="fk") == 1

    retried = Api.data_of(api.http.post("/add/message", json=body, headers=key))

    assert retried["task_id"] == first
    assert api.ok("/get/memory", {"user_id": "fk"})["memory_detail_list"] == []


def test_an_add_with_memories_left_is_still_recognised(api: Api) -> None:
    """Deleting some of an add's memories leaves the rest: the add sent again is a repeat, not
    a second copy of what remains."""
    body = {
        "user_id": "fr",
        "conversation_id": "c",
        "messages": [
            {"role": "user", "content": "第一件事：我养了一只猫"},
            {"role": "assistant", "content": "好的"},
            {"role": "user", "content": "第二件事：我住在苏州"},
            {"role": "assistant", "content": "记住了"},
        ],
    }
    first = api.ok("/add/message", body)["task_id"]
    memories = api.ok("/get/memory", {"user_id": "fr"})["memory_detail_list"]
    assert len(memories) >= 2
    assert delete(api, memory_ids=[memories[0]["id"]]) == 1

    assert api.ok("/add/message", body)["task_id"] == first
    left = api.ok("/get/memory", {"user_id": "fr"})["memory_detail_list"]
    assert len(left) == len(memories) - 1


def test_the_older_sdks_user_ids(api: Api, pg_url: str, api_key: str) -> None:
    """The MemOS SDK before 2.0 sends user_ids beside memory_ids (ignored: the ids say what
    goes), or alone with one user (that user's memories)."""
    store_memories(pg_url, api_key, "o1", 3, text="old sdk")
    store_memories(pg_url, api_key, "o2", 2, text="kept")
    [one, *_] = api.ok("/get/memory", {"user_id": "o1"})["memory_detail_list"]

    assert delete(api, user_ids=["o1"], memory_ids=[one["id"]]) == 1
    assert delete(api, user_ids=["o1"]) == 2
    assert "one user" in api.fails("/delete/memory", {"user_ids": ["o1", "o2"]}, 400, 40000)
    assert listed(api, "o2") == ["kept 1", "kept 2"]


def test_by_agent_takes_that_agent_of_every_user(api: Api, pg_url: str, api_key: str) -> None:
    store_memories(pg_url, api_key, "u1", 2, text="bot", agent_id="bot")
    store_memories(pg_url, api_key, "u2", 1, text="bot", agent_id="bot")
    store_memories(pg_url, api_key, "u1", 1, text="other", agent_id="other")

    assert delete(api, agent_id="bot") == 3

    assert listed(api, "u1") == ["other 1"]
    assert listed(api, "u2") == []


def test_by_filter_alone_or_within_one_user(api: Api) -> None:
    for user in ("u1", "u2"):
        for topic in ("work", "home"):
            api.ok(
                "/add/message",
                {
                    "user_id": user,
                    "conversation_id": topic,
                    "info": {"topic": topic},
                    "messages": [{"role": "user", "content": f"{user} {topic} note"}],
                },
            )

    assert delete(api, user_id="u1", filter={"and": [{"topic": "work"}]}) == 1
    assert listed(api, "u1") == ["user: u1 home note"]
    assert listed(api, "u2") == ["user: u2 home note", "user: u2 work note"]

    assert delete(api, filter={"or": [{"conversation_id": "home"}]}) == 2
    assert listed(api, "u1") == []
    assert listed(api, "u2") == ["user: u2 work note"]


def test_memory_type_narrows_a_deletion(api: Api, pg_url: str, api_key: str) -> None:
    store_memories(pg_url, api_key, "u1", 2, text="long", memory_type="LongTermMemory")
    store_memories(pg_url, api_key, "u1", 2, text="user", memory_type="UserMemory")
    store_preferences(pg_url, api_key, "u1", 2, "explicit_preference")
    store_preferences(pg_url, api_key, "u1", 2, "implicit_preference")

    # Preferences are stored with memory_type UserMemory too; a fact type takes facts only.
    assert delete(api, user_id="u1", memory_type="UserMemory") == 2
    assert delete(api, user_id="u1", memory_type="implicit_preference") == 2
    assert listed(api, "u1") == [
        "explicit_preference 1",
        "explicit_preference 2",
        "long 1",
        "long 2",
    ]
    assert delete(api, user_id="u1", memory_type="PreferenceMemory") == 2
    assert listed(api, "u1") == ["long 1", "long 2"]

    message = api.fails(
        "/delete/memory", {"user_id": "u1", "memory_type": "ToolSchemaMemory"}, 400, 40006
    )
    assert "PreferenceMemory" in message
    assert "EventMemory" in message
    assert "LongTermMemory" in message


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({}, 400, 40002, "exactly one of memory_ids, user_id, agent_id or filter"),
        ({"memory_type": "UserMemory"}, 400, 40002, "exactly one of"),
        ({"memory_ids": []}, 400, 40002, "exactly one of"),
        ({"user_id": None, "memory_ids": None}, 400, 40002, "exactly one of"),
        ({"memory_ids": [str(uuid.uuid4())], "user_id": "u1"}, 400, 40000, "memory_ids, user_id"),
        ({"user_id": "u1", "agent_id": "a"}, 400, 40000, "got user_id, agent_id"),
        ({"agent_id": "a", "filter": {"topic": "x"}}, 400, 40000, "got agent_id, filter"),
        ({"filter": {}}, 400, 40000, "filter is empty"),
        ({"user_id": "u1", "filter": {}}, 400, 40000, "filter is empty"),
        ({"filter": {"and": [{"topic": {"like": "x"}}]}}, 400, 40000, "unknown operator"),
        ({"memory_ids": [str(uuid.uuid4()), "nope"]}, 400, 40000, "memory_ids[1]"),
        ({"memory_ids": [str(uuid.uuid4())] * 1001}, 400, 40000, "memory_ids"),
        ({"memory_ids": "abc"}, 400, 40000, "memory_ids"),
        ({"user_id": ""}, 400, 40002, "user_id must not be empty"),
        ({"user_id": "x" * 101}, 413, 40010, "user_id"),
        # A narrowing field it does not know would widen the deletion to the whole user.
        ({"user_id": "u1", "conversation_id": "c"}, 400, 40000, "by delete/message"),
        ({"user_id": "u1", "filters": {"topic": "x"}}, 400, 40000, "does not take filters"),
        ({"user_id": "u1", "memoryType": "UserMemory"}, 400, 40000, "does not take memoryType"),
        ({"user_id": "u1", "memory_id": str(uuid.uuid4())}, 400, 40000, "take memory_id"),
    ],
)
def test_bad_selectors_get_clear_errors_and_delete_nothing(
    api: Api, pg_url: str, api_key: str, body: dict[str, Any], status: int, code: int, message: str
) -> None:
    store_memories(pg_url, api_key, "u1", 2, text="fact")

    assert message in api.fails("/delete/memory", body, status, code)
    assert listed(api, "u1") == ["fact 1", "fact 2"]


def test_another_project_cannot_delete_my_memories(
    api: Api, service: ServiceThread, pg_url: str, api_key: str
) -> None:
    api.ok("/add/message", {"user_id": "u1", "conversation_id": "c", "messages": SEED_HOTEL})
    before = [m["id"] for m in api.ok("/get/memory", {"user_id": "u1"})["memory_detail_list"]]
    mine = {"id": before[0]}

    with Api(service.base_url, new_api_key(pg_url)) as other:
        for body in (
            {"memory_ids": [mine["id"]]},
            {"user_id": "u1"},
            {"filter": {"conversation_id": "c"}},
        ):
            assert other.ok("/delete/memory", body)["deleted_count"] == 0

    after = [m["id"] for m in api.ok("/get/memory", {"user_id": "u1"})["memory_detail_list"]]
    assert sorted(after) == sorted(before)


def test_ten_thousand_memories_go_in_one_request_under_a_second(
    api: Api, pg_url: str, api_key: str
) -> None:
    api.ok(
        "/add/message",
        {
            "user_id": "bulk",
            "conversation_id": "c",
            "messages": [{"role": "user", "content": "bulk memory kept by the service"}],
        },
    )
    assert store_memories(pg_url, api_key, "bulk", 10_000, text="bulk memory") == 10_000
    assert api.ok("/get/memory", {"user_id": "bulk"})["total"] == 10_001

    started = time.perf_counter()
    deleted = delete(api, user_id="bulk")
    elapsed = time.perf_counter() - started

    print(f"\ndeleted {deleted} memories in {elapsed * 1000:.0f} ms")
    assert deleted == 10_001
    assert elapsed < 1.0, f"{elapsed:.3f} s"
    assert api.ok("/get/memory", {"user_id": "bulk"})["total"] == 0
    found = api.ok("/search/memory", {"user_id": "bulk", "query": "bulk memory"})
    assert found["memory_detail_list"] == []
    assert len(history(pg_url, api_key)) == 10_001
