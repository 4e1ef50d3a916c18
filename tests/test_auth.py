"""API keys and tenant isolation: a key sees only its own project."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import Api
from tests.support.conversations import SEED_HOTEL
from tests.support.database import new_api_key
from tests.support.service import ServiceThread

ENDPOINTS = [
    ("/add/message", {"user_id": "u", "conversation_id": "c", "messages": SEED_HOTEL}),
    ("/search/memory", {"user_id": "u", "query": "酒店"}),
    ("/get/message", {"user_id": "u", "conversation_id": "c"}),
    ("/get/status", {"task_id": "00000000-0000-0000-0000-000000000000"}),
    ("/get/memory", {"user_id": "u"}),
    ("/delete/memory", {"user_id": "u"}),
    ("/update/memory", {"memory_id": "00000000-0000-0000-0000-000000000000", "title": "t"}),
]


@pytest.mark.parametrize(("path", "body"), ENDPOINTS)
def test_a_missing_key_is_refused(service: ServiceThread, path: str, body: object) -> None:
    with Api(service.base_url, None) as anonymous:
        message = anonymous.fails(path, body, 401, 40100)
    assert "Authorization: Token" in message


@pytest.mark.parametrize(("path", "body"), ENDPOINTS)
def test_a_wrong_key_is_refused(service: ServiceThread, path: str, body: object) -> None:
    with Api(service.base_url, "mk-not-a-real-key") as stranger:
        stranger.fails(path, body, 401, 40132)


def test_reading_one_memory_needs_a_valid_key(service: ServiceThread) -> None:
    path = "/get/memory/00000000-0000-0000-0000-000000000000"
    with Api(service.base_url, None) as anonymous:
        anonymous.error_of(anonymous.get(path), 401, 40100)
    with Api(service.base_url, "mk-not-a-real-key") as stranger:
        stranger.error_of(stranger.get(path), 401, 40132)


def test_malformed_authorization_headers_are_refused(service: ServiceThread) -> None:
    for header in ("Token", "Basic dXNlcjpwYXNz", "mk-raw-key-without-scheme", "Token"):
        response = httpx.post(
            f"{service.base_url}/get/message",
            json={"user_id": "u", "conversation_id": "c"},
            headers={"Authorization": header},
        )
        assert response.status_code == 401
        assert response.json()["code"] == 40100


def test_bearer_is_accepted_too(service: ServiceThread, api_key: str) -> None:
    response = httpx.post(
        f"{service.base_url}/get/message",
        json={"user_id": "u", "conversation_id": "c"},
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.json()["code"] == 0


def test_two_projects_with_the_same_user_id_never_see_each_other(
    service: ServiceThread, pg_url: str
) -> None:
    with (
        Api(service.base_url, new_api_key(pg_url)) as a,
        Api(service.base_url, new_api_key(pg_url)) as b,
    ):
        check_isolation(a, b)


def check_isolation(a: Api, b: Api) -> None:
    body = {"user_id": "same-user", "conversation_id": "same-conv"}
    task_a = a.ok("/add/message", {**body, "messages": SEED_HOTEL})["task_id"]
    task_b = b.ok(
        "/add/message",
        {**body, "messages": [{"role": "user", "content": "B's secret: I live in Chengdu."}]},
    )["task_id"]

    for mine, theirs, their_task, their_word in ((a, b, task_b, "Chengdu"), (b, a, task_a, "七天")):
        found = mine.ok("/search/memory", {"user_id": "same-user", "query": their_word})
        assert all(their_word not in m["memory_value"] for m in found["memory_detail_list"])
        history = mine.ok("/get/message", body)["message_detail_list"]
        assert all(their_word not in str(m["content"]) for m in history)
        mine.fails("/get/status", {"task_id": their_task}, 404, 40001)
        listed = mine.ok("/get/memory", {"user_id": "same-user"})["memory_detail_list"]
        assert listed
        assert all(their_word not in m["memory_value"] for m in listed)
        their_memory, *_ = theirs.ok("/get/memory", {"user_id": "same-user"})["memory_detail_list"]
        mine.error_of(mine.get(f"/get/memory/{their_memory['id']}"), 404, 40307)
        mine.fails("/update/memory", {"memory_id": their_memory["id"], "title": "x"}, 404, 40307)
        deleted = mine.ok("/delete/memory", {"memory_ids": [their_memory["id"]]})
        assert deleted["deleted_count"] == 0
        # and the owner still sees its own
        assert theirs.ok("/get/status", {"task_id": their_task})[0]["status"] == "completed"
        assert theirs.data_of(theirs.get(f"/get/memory/{their_memory['id']}")) == their_memory
