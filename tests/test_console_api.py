"""The console's read endpoints (console/*) and the page's own files, over real HTTP.

What the browser does with them is in ``test_console.py``; here: the counts, the memories beside
each message, archived memories and history, tenant isolation, and refusals of bad input.
"""

from __future__ import annotations

import tomllib
from typing import Any

import httpx
import pytest

from memos_server.app import API_PREFIX
from memos_server.console import STATIC_DIR
from tests.support.api import Api
from tests.support.conversations import ENGLISH_TRIP, SEED_HOTEL
from tests.support.database import new_api_key
from tests.support.paths import ROOT
from tests.support.service import ServiceThread


def add(api: Api, user_id: str, conversation_id: str, messages: list[dict[str, Any]]) -> None:
    task = api.ok(
        "/add/message",
        {"user_id": user_id, "conversation_id": conversation_id, "messages": messages},
    )
    assert task["status"] == "completed"  # fast mode: the memories exist before the answer


def thread(api: Api, user_id: str, conversation_id: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = api.ok(
        "/console/messages", {"user_id": user_id, "conversation_id": conversation_id, **extra}
    )
    return data


def test_users_come_with_their_counts(api: Api) -> None:
    add(api, "alice", "hotel", SEED_HOTEL)
    add(api, "alice", "trip", ENGLISH_TRIP)
    add(api, "bob", "trip", ENGLISH_TRIP[:2])

    data = api.ok("/console/users", {})

    assert data["total"] == 2
    users = {u["user_id"]: u for u in data["users"]}
    assert users["alice"]["messages"] == len(SEED_HOTEL) + len(ENGLISH_TRIP)
    assert users["alice"]["conversations"] == 2
    assert users["alice"]["facts"] >= 2  # at least one fast window per conversation
    assert users["alice"]["preferences"] == 0
    assert users["bob"]["messages"] == 2
    assert data["users"][0]["user_id"] == "bob"  # the most recently active first
    assert users["bob"]["last_active"] >= users["alice"]["last_active"]

    page = api.ok("/console/users", {"offset": 1, "limit": 1})
    assert [u["user_id"] for u in page["users"]] == ["alice"]
    assert page["total"] == 2
    assert api.ok("/console/users", {"offset": 5})["total"] == 2  # past the end: still counted


def test_a_users_conversations_latest_first(api: Api) -> None:
    add(api, "alice", "hotel", SEED_HOTEL)
    add(api, "alice", "trip", ENGLISH_TRIP)

    data = api.ok("/console/conversations", {"user_id": "alice"})

    assert data["total"] == 2
    assert [c["conversation_id"] for c in data["conversations"]] == ["trip", "hotel"]
    trip = data["conversations"][0]
    assert trip["messages"] == len(ENGLISH_TRIP)
    assert trip["memories"] >= 1
    assert trip["first_time"] <= trip["last_time"]
    assert api.ok("/console/conversations", {"user_id": "nobody"}) == {
        "conversations": [],
        "total": 0,
    }


def test_each_message_comes_with_the_memories_made_from_it(api: Api) -> None:
    add(api, "alice", "hotel", SEED_HOTEL)

    data = thread(api, "alice", "hotel")

    assert [m["content"] for m in data["messages"]] == [m["content"] for m in SEED_HOTEL]
    assert data["total"] == len(SEED_HOTEL)
    memories = {m["id"]: m for m in data["memories"]}
    for message in data["messages"]:
        assert message["memory_ids"], message  # every turn is in a fast window
        for memory_id in message["memory_ids"]:
            made = memories[memory_id]
            assert (made["kind"], made["mode"], made["status"]) == ("fact", "fast", "activated")
            assert message["content"] in made["text"]  # a fast memory holds its turns verbatim

    page = thread(api, "alice", "hotel", offset=2, limit=1)
    assert [m["content"] for m in page["messages"]] == [SEED_HOTEL[2]["content"]]
    assert page["total"] == len(SEED_HOTEL)


def test_images_and_files_are_named_not_sent_back(api: Api) -> None:
    image = "data:image/png;base64," + "A" * 100_000
    parts = [
        {"type": "text", "text": "看看这张照片"},
        {"type": "image_url", "image_url": {"url": image}},
        {"type": "file", "file": {"filename": "行程.pdf", "file_data": "B" * 1000}},
    ]
    add(api, "alice", "photo", [{"role": "user", "content": parts}])

    [message] = thread(api, "alice", "photo")["messages"]

    assert message["content"].startswith("看看这张照片")  # with the parts named, as stored
    assert message["attachments"] == ["image " + image[:200] + "…", "file 行程.pdf"]


def test_archived_memories_are_listed_with_their_history(api: Api) -> None:
    add(api, "alice", "hotel", SEED_HOTEL)
    [first, *_] = api.ok("/console/memories", {"user_id": "alice"})["memories"]
    api.ok("/update/memory", {"memory_id": first["id"], "status": "archived"})

    everything = api.ok("/console/memories", {"user_id": "alice"})
    archived = api.ok("/console/memories", {"user_id": "alice", "status": "archived"})
    active = api.ok("/console/memories", {"user_id": "alice", "status": "activated"})

    assert [m["id"] for m in archived["memories"]] == [first["id"]]
    assert archived["memories"][0]["status"] == "archived"
    assert everything["total"] == active["total"] + 1
    assert first["id"] not in {m["id"] for m in active["memories"]}
    assert api.ok("/console/memories", {"user_id": "alice", "kind": "preference"})["total"] == 0

    story = api.ok("/console/history", {"memory_id": first["id"]})
    assert story["memory"]["status"] == "archived"
    assert [row["event"] for row in story["history"]] == ["ADD", "ARCHIVE"]
    assert story["history"][0]["new_value"] == first["text"]
    cited = story["history"][0]["source_message_ids"]
    assert cited == first["source_message_ids"]
    assert [m["message_id"] for m in story["messages"]] == cited
    assert all(m["content"] in first["text"] for m in story["messages"])


def test_a_deleted_memory_keeps_its_history(api: Api) -> None:
    add(api, "alice", "hotel", SEED_HOTEL)
    [memory, *_] = api.ok("/console/memories", {"user_id": "alice"})["memories"]
    api.ok("/delete/memory", {"memory_ids": [memory["id"]]})

    story = api.ok("/console/history", {"memory_id": memory["id"]})

    assert story["memory"] is None
    assert [row["event"] for row in story["history"]] == ["ADD", "DELETE"]
    assert memory["id"] not in {m["id"] for m in thread(api, "alice", "hotel")["memories"]}


def test_a_long_history_is_answered_newest_first_up_to_the_limit(api: Api) -> None:
    add(api, "alice", "hotel", SEED_HOTEL)
    [memory, *_] = api.ok("/console/memories", {"user_id": "alice"})["memories"]
    for number in range(5):
        api.ok("/update/memory", {"memory_id": memory["id"], "content": f"第{number}版"})

    whole = api.ok("/console/history", {"memory_id": memory["id"]})
    newest = api.ok("/console/history", {"memory_id": memory["id"], "limit": 2})

    assert whole["total"] == newest["total"] == len(whole["history"]) == 6
    assert [row["new_value"] for row in newest["history"]] == ["第3版", "第4版"]
    assert api.fails("/console/history", {"memory_id": memory["id"], "limit": 501}, 400, 40000)


def test_one_project_sees_nothing_of_another(service: ServiceThread, pg_url: str, api: Api) -> None:
    add(api, "alice", "hotel", SEED_HOTEL)
    [memory, *_] = api.ok("/console/memories", {"user_id": "alice"})["memories"]

    with Api(service.base_url, new_api_key(pg_url)) as other:
        assert other.ok("/console/users", {}) == {"users": [], "total": 0}
        assert other.ok("/console/conversations", {"user_id": "alice"})["total"] == 0
        assert thread(other, "alice", "hotel") == {"messages": [], "memories": [], "total": 0}
        assert other.ok("/console/memories", {"user_id": "alice"})["total"] == 0
        other.fails("/console/history", {"memory_id": memory["id"]}, 404, 40307)
        # And the other way round: its users are not in the first project's list.
        add(other, "mallory", "c", ENGLISH_TRIP)
        assert [u["user_id"] for u in other.ok("/console/users", {})["users"]] == ["mallory"]
    assert [u["user_id"] for u in api.ok("/console/users", {})["users"]] == ["alice"]


def test_info_says_what_the_service_can_do(api: Api, service: ServiceThread) -> None:
    info = Api.data_of(api.get("/console/info"))

    assert info["project"].startswith("test-")
    assert info["chat_available"] is False
    assert info["llm_model"] is None
    assert info["embedding_model"] == service.runtime.require_embedder().name


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/console/users", {"limit": 0}, 400, 40000),
        ("/console/users", {"limit": 501}, 400, 40000),
        ("/console/users", {"offset": -1}, 400, 40000),
        ("/console/users", {"offset": 10**30}, 400, 40000),
        ("/console/users", [], 400, 40000),
        ("/console/conversations", {}, 400, 40002),
        ("/console/conversations", {"user_id": "u" * 101}, 413, 40010),
        ("/console/messages", {"user_id": "u", "conversation_id": "c" * 101}, 413, 40011),
        ("/console/messages", {"user_id": "u", "conversation_id": "c", "limit": 501}, 400, 40000),
        ("/console/memories", {"user_id": "u", "status": "gone"}, 400, 40006),
        ("/console/memories", {"user_id": "u", "size": 201}, 400, 40000),
        ("/console/memories", {"user_id": "u\u0000"}, 400, 40000),
        ("/console/history", {"memory_id": "not-a-uuid"}, 404, 40307),
        ("/console/history", {"memory_id": "00000000-0000-0000-0000-000000000000"}, 404, 40307),
        ("/console/history", {"memory_id": "m" * 101}, 413, 40305),
    ],
)
def test_bad_input_gets_a_clear_4xx(
    api: Api, path: str, body: object, status: int, code: int
) -> None:
    api.fails(path, body, status, code)


@pytest.mark.parametrize("path", ["/console/users", "/console/history"])
def test_the_console_endpoints_need_a_valid_key(service: ServiceThread, path: str) -> None:
    with Api(service.base_url, None) as anonymous:
        anonymous.fails(path, {"memory_id": "x"}, 401, 40100)
    with Api(service.base_url, "mk-not-a-real-key") as stranger:
        stranger.fails(path, {"memory_id": "x"}, 401, 40132)
        stranger.error_of(stranger.get("/console/info"), 401, 40132)


def test_the_page_is_served_with_strict_headers(service: ServiceThread) -> None:
    root = service.base_url.removesuffix(API_PREFIX)

    assert httpx.get(f"{root}/console").headers["location"].endswith("/console/")
    page = httpx.get(f"{root}/console/")
    script = httpx.get(f"{root}/console/console.js")
    missing = httpx.get(f"{root}/console/nothing.js")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="console.js">' in page.text
    assert "cdn" not in page.text.lower()
    for response in (page, script):
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self';" in policy  # no 'unsafe-inline'
        assert "frame-ancestors 'none'" in policy
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert "javascript" in script.headers["content-type"]
    assert missing.status_code == 404


def test_the_console_endpoints_are_documented(service: ServiceThread) -> None:
    root = service.base_url.removesuffix(API_PREFIX)
    spec = httpx.get(f"{root}/openapi.json").json()

    for path in ("users", "conversations", "messages", "memories", "history"):
        operation = spec["paths"][f"{API_PREFIX}/console/{path}"]["post"]
        assert operation["description"], path
        assert operation["tags"] == ["console"]
    assert spec["paths"][f"{API_PREFIX}/console/info"]["get"]["description"]
    assert not any(p.startswith("/console") for p in spec["paths"])  # the page is not an API


def test_the_console_files_ship_in_the_package() -> None:
    # A wheel holds only the package data pyproject names: every console file must match it.
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "console/static/*" in setuptools["package-data"]["memos_server"]
    files = list(STATIC_DIR.iterdir())
    assert {f.name for f in files} >= {"index.html", "console.js", "console.css"}
    assert all(f.is_file() for f in files)  # no subfolder the pattern would miss
