"""get/memory (pages of a user's memories) and get/memory/{id} (one memory)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Api
from tests.support.conversations import SEED_HOTEL
from tests.support.database import new_api_key, project_of, sql
from tests.support.memories import store_memories, store_preference
from tests.support.service import ServiceThread


def page(api: Api, **body: Any) -> Any:
    return api.ok("/get/memory", {"user_id": "u1", **body})


def values(items: list[dict[str, Any]], field: str = "memory_value") -> list[str]:
    return [item[field] for item in items]


def test_nothing_stored_is_an_empty_first_page(api: Api) -> None:
    data = page(api)

    assert data["memory_detail_list"] == []
    assert data["preference_detail_list"] == []
    assert (data["total"], data["preference_total"], data["size"], data["current"]) == (0, 0, 10, 1)
    assert data["pages"] == 0


def test_pages_of_facts_newest_first(api: Api, pg_url: str, api_key: str) -> None:
    store_memories(pg_url, api_key, "u1", 23, text="fact")

    first, third, fourth = (page(api, page=n) for n in (1, 3, 4))

    assert values(first["memory_detail_list"]) == [f"fact {n}" for n in range(1, 11)]
    assert values(third["memory_detail_list"]) == ["fact 21", "fact 22", "fact 23"]
    assert fourth["memory_detail_list"] == []
    assert (first["total"], first["pages"], first["size"], third["current"]) == (23, 3, 10, 3)
    walked = [v for n in (1, 2, 3) for v in values(page(api, page=n)["memory_detail_list"])]
    assert sorted(walked) == sorted(f"fact {n}" for n in range(1, 24))
    assert values(page(api, size=50)["memory_detail_list"]) == [f"fact {n}" for n in range(1, 24)]


def test_memories_made_at_the_same_moment_never_repeat_across_pages(
    api: Api, pg_url: str, api_key: str
) -> None:
    store_memories(pg_url, api_key, "u1", 9, text="same", same_time=True)

    walked = [m["id"] for n in (1, 2, 3) for m in page(api, page=n, size=4)["memory_detail_list"]]

    assert len(walked) == len(set(walked)) == 9
    assert walked == sorted(walked, reverse=True)  # the id breaks the tie


def test_facts_and_preferences_are_paged_side_by_side(api: Api, pg_url: str, api_key: str) -> None:
    store_memories(pg_url, api_key, "u1", 13, text="fact")
    store_memories(
        pg_url,
        api_key,
        "u1",
        4,
        text="pref",
        kind="preference",
        memory_type="UserMemory",
        preference_type="implicit_preference",
    )

    first, second = page(api, page=1), page(api, page=2)
    assert len(first["memory_detail_list"]) == 10
    assert values(first["preference_detail_list"], "preference") == [
        "pref 1",
        "pref 2",
        "pref 3",
        "pref 4",
    ]
    assert len(second["memory_detail_list"]) == 3
    assert second["preference_detail_list"] == []
    assert (first["total"], first["preference_total"], first["pages"]) == (13, 4, 2)
    assert first["preference_detail_list"][0]["preference_type"] == "implicit_preference"

    # More preferences than facts: pages reach the end of the longer list.
    more = page(api, size=2, page=7)
    assert (more["total"], more["preference_total"], more["pages"]) == (13, 4, 7)
    assert values(more["memory_detail_list"]) == ["fact 13"]
    assert more["preference_detail_list"] == []
    assert values(page(api, size=2, page=2)["preference_detail_list"], "preference") == [
        "pref 3",
        "pref 4",
    ]

    without = page(api, include_preference=False)
    assert without["preference_detail_list"] == []
    assert (without["total"], without["preference_total"], without["pages"]) == (13, 0, 2)


def test_archived_memories_are_not_listed(api: Api, pg_url: str, api_key: str) -> None:
    store_memories(pg_url, api_key, "u1", 2, text="live")
    store_memories(pg_url, api_key, "u1", 3, text="old", status="archived")

    data = page(api)
    assert values(data["memory_detail_list"]) == ["live 1", "live 2"]
    assert data["total"] == 2


def test_items_carry_sources_info_and_no_relativity(api: Api) -> None:
    api.ok(
        "/add/message",
        {
            "user_id": "u1",
            "conversation_id": "0610",
            "agent_id": "travel-bot",
            "app_id": "web",
            "tags": ["trip"],
            "info": {"source": "web", "priority": 3},
            "messages": SEED_HOTEL,
        },
    )
    messages = api.ok("/get/message", {"user_id": "u1", "conversation_id": "0610"})

    # Four Chinese turns: two fast windows of one exchange each.
    windows = page(api)["memory_detail_list"]
    assert len(windows) == 2
    item = next(w for w in windows if "我选七天" in w["memory_value"])
    assert "relativity" not in item
    assert item["info"] == {"source": "web", "priority": 3}
    assert (item["user_id"], item["agent_id"], item["app_id"]) == ("u1", "travel-bot", "web")
    assert item["tags"] == ["mode:fast", "trip"]
    assert item["status"] == "activated"
    assert item["memory_type"] == "LongTermMemory"
    assert item["conversation_id"] == "0610"
    assert isinstance(item["create_time"], int)
    assert isinstance(item["update_time"], int)
    sources = sorted(s["message_id"] for w in windows for s in w["sources"])
    assert sources == sorted(m["message_id"] for m in messages["message_detail_list"])


def test_filters_and_agents_narrow_the_list(api: Api, pg_url: str, api_key: str) -> None:
    for user, agent, conversation in (
        ("u1", "travel", "trip"),
        ("u1", "food", "food"),
        ("u2", "travel", "other-user"),
    ):
        api.ok(
            "/add/message",
            {
                "user_id": user,
                "conversation_id": conversation,
                "agent_id": agent,
                "info": {"topic": conversation},
                "messages": [{"role": "user", "content": f"note about {conversation}"}],
            },
        )

    def conversations(**body: Any) -> list[str]:
        data = api.ok("/get/memory", body)
        return sorted(values(data["memory_detail_list"], "conversation_id"))

    assert conversations(user_id="u1", filter={"and": [{"agent_id": "travel"}]}) == ["trip"]
    assert conversations(user_id="u1", filter={"topic": "food"}) == ["food"]
    assert conversations(user_id="u1", filter={"or": [{"topic": "food"}, {"topic": "trip"}]}) == [
        "food",
        "trip",
    ]
    assert conversations(user_id="u1", agent_id="travel") == ["trip"]
    # The SDK sends either user_id or agent_id: the agent alone lists it for every user.
    assert conversations(agent_id="travel") == ["other-user", "trip"]
    data = api.ok("/get/memory", {"user_id": "u1", "filter": {"agent_id": "travel"}})
    assert data["total"] == 1


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({"size": 51}, 400, 40000, "size"),
        ({"size": 0}, 400, 40000, "size"),
        ({"page": 0}, 400, 40000, "page"),
        ({"page": "first"}, 400, 40000, "page"),
        ({"filter": {"and": [{"agent_id": {"like": "t%"}}]}}, 400, 40000, "unknown operator"),
        ({"filter": ["agent_id"]}, 400, 40000, "filter"),
        ({"user_id": None}, 400, 40002, "user_id is required"),
        ({"user_id": ""}, 400, 40002, "user_id must not be empty"),
        ({"user_id": "x" * 101}, 413, 40010, "user_id"),
    ],
)
def test_bad_requests_get_clear_errors(
    api: Api, body: dict[str, Any], status: int, code: int, message: str
) -> None:
    assert message in api.fails("/get/memory", {"user_id": "u1", **body}, status, code)


def test_what_the_sdk_sends_is_accepted(api: Api, pg_url: str, api_key: str) -> None:
    store_memories(pg_url, api_key, "u1", 1, text="fact")

    data = api.ok(
        "/get/memory",
        {
            "include_preference": True,
            "user_id": "u1",
            "agent_id": None,
            "include_tool_memory": True,
            "include_memory_view": None,
            "filter": None,
            "page": 1,
            "size": 10,
            "something_new": {"x": 1},
        },
    )
    assert values(data["memory_detail_list"]) == ["fact 1"]
    assert data["tool_memory_detail_list"] == []


def test_one_memory_by_id(api: Api, service: ServiceThread, pg_url: str, api_key: str) -> None:
    api.ok("/add/message", {"user_id": "u1", "conversation_id": "c", "messages": SEED_HOTEL})
    fact, _ = page(api)["memory_detail_list"]
    preference_id = store_preference(
        service, pg_url, api_key, "u1", "prefers budget hotels", reasoning="chose 7 Days"
    )

    got = api.data_of(api.get(f"/get/memory/{fact['id']}"))
    assert got == fact

    got = api.data_of(api.get(f"/get/memory/{preference_id}"))
    assert got["id"] == preference_id
    assert (got["preference"], got["reasoning"]) == ("prefers budget hotels", "chose 7 Days")
    assert got["preference_type"] == "explicit_preference"
    assert "memory_value" not in got
    assert "relativity" not in got


@pytest.mark.parametrize(
    "memory_id",
    [
        "00000000-0000-0000-0000-000000000000",
        "not-a-uuid",
        "1234",
        "a%2Fb",
        "x" * 2000,
        "%E4%B8%83%E5%A4%A9",
    ],
)
def test_unknown_or_malformed_ids_are_not_found(api: Api, memory_id: str) -> None:
    message = api.error_of(api.get(f"/get/memory/{memory_id}"), 404, 40307)
    assert message.startswith("memory not found")


def test_archived_memories_are_not_found_by_id(api: Api, pg_url: str, api_key: str) -> None:
    store_memories(pg_url, api_key, "u1", 1, text="old", status="archived")
    [stored] = sql(
        pg_url,
        "SELECT id::text AS id FROM memories WHERE project_id = CAST(:p AS uuid)",
        p=project_of(pg_url, api_key),
    )

    api.error_of(api.get(f"/get/memory/{stored['id']}"), 404, 40307)


def test_another_projects_memories_stay_invisible(
    api: Api, service: ServiceThread, pg_url: str, api_key: str
) -> None:
    api.ok("/add/message", {"user_id": "u1", "conversation_id": "c", "messages": SEED_HOTEL})
    mine, _ = page(api)["memory_detail_list"]

    with Api(service.base_url, new_api_key(pg_url)) as other:
        assert other.ok("/get/memory", {"user_id": "u1"})["memory_detail_list"] == []
        assert other.ok("/get/memory", {"user_id": "u1"})["total"] == 0
        other.error_of(other.get(f"/get/memory/{mine['id']}"), 404, 40307)
