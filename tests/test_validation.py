"""Bad input: a MemOS error envelope with the right code and status, and nothing stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import Api
from tests.support.conversations import SEED_HOTEL
from tests.support.service import ServiceThread

ADD = {"user_id": "u1", "conversation_id": "c1", "messages": SEED_HOTEL}
SEARCH = {"user_id": "u1", "query": "酒店"}
GET = {"user_id": "u1", "conversation_id": "c1"}


def without(body: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != field}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/add/message", ADD, "user_id"),
        ("/add/message", ADD, "conversation_id"),
        ("/add/message", ADD, "messages"),
        ("/search/memory", SEARCH, "user_id"),
        ("/search/memory", SEARCH, "query"),
        ("/get/message", GET, "user_id"),
        # get/message's conversation_id is optional: without it, the user's recent
        # conversations (tests/test_message_source.py).
        ("/get/status", {"task_id": "x"}, "task_id"),
    ],
)
def test_each_required_field(api: Api, path: str, body: dict[str, Any], field: str) -> None:
    # search/memory's user_id may give way to agent_id, and its message says so.
    assert api.fails(path, without(body, field), 400, 40002).startswith(f"{field} is required")
    assert api.fails(path, {**body, field: None}, 400, 40002).startswith(f"{field} is required")
    if field != "messages":
        message = api.fails(path, {**body, field: ""}, 400, 40002)
        assert message == f"{field} must not be empty"


def test_empty_messages_list(api: Api) -> None:
    assert api.fails("/add/message", {**ADD, "messages": []}, 400, 40002) == (
        "messages must not be empty"
    )


@pytest.mark.parametrize(
    ("message", "code", "expected"),
    [
        ({"content": "hi"}, 40002, "messages[0].role is required"),
        ({"role": "robot", "content": "hi"}, 40006, "messages[0].role"),
        ({"role": "user"}, 40000, "messages[0]: content is empty"),
        ({"role": "user", "content": "   "}, 40000, "messages[0]: content is empty"),
        # Zero-width space, joiner, byte-order mark: nothing a reader sees.
        ({"role": "user", "content": "\u200b\u200d\ufeff"}, 40000, "content is empty"),
        ({"role": "user", "content": 42}, 40000, "messages[0].content"),
        ({"role": "user", "content": "hi", "chat_time": "last tuesday"}, 40000, "chat_time"),
        ({"role": "user", "content": [{"type": "video", "url": "x"}]}, 40006, "content"),
    ],
)
def test_bad_messages(api: Api, message: dict[str, Any], code: int, expected: str) -> None:
    got = api.fails("/add/message", {**ADD, "messages": [message]}, 400, code)
    assert expected in got


def test_ids_longer_than_100_characters(api: Api) -> None:
    assert "user_id" in api.fails("/add/message", {**ADD, "user_id": "u" * 101}, 413, 40010)
    long_conversation = {**ADD, "conversation_id": "c" * 101}
    assert "conversation_id" in api.fails("/add/message", long_conversation, 413, 40011)
    api.fails("/search/memory", {**SEARCH, "user_id": "u" * 101}, 413, 40010)
    api.fails("/search/memory", {**SEARCH, "conversation_id": "c" * 101}, 413, 40011)
    api.fails("/get/message", {**GET, "conversation_id": "c" * 101}, 413, 40011)
    api.ok("/add/message", {**ADD, "user_id": "u" * 100, "conversation_id": "c" * 100})


def test_a_too_long_query(api: Api) -> None:
    assert "query" in api.fails("/search/memory", {**SEARCH, "query": "字" * 4001}, 413, 40305)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ADD, "user_id": 123}, "user_id"),
        ({**ADD, "messages": "hello"}, "messages"),
        ({**ADD, "tags": "travel"}, "tags"),
        ({**ADD, "info": [1, 2]}, "info"),
        ({**SEARCH, "memory_limit_number": "six"}, "memory_limit_number"),
        ({**SEARCH, "memory_limit_number": -1}, "memory_limit_number"),
        ({**SEARCH, "include_preference": "maybe"}, "include_preference"),
    ],
)
def test_wrong_types_name_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    path = "/add/message" if "messages" in body else "/search/memory"
    assert api.fails(path, body, 400, 40000).startswith(field)


def test_bodies_that_are_not_json_objects(service: ServiceThread, api_key: str) -> None:
    headers = {"Authorization": f"Token {api_key}", "Content-Type": "application/json"}
    for raw in (
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b"",
        '{"user_id": "\ud800"}'.encode("utf-8", "surrogatepass"),  # invalid UTF-8
        b'{"user_id": "\xff"}',
    ):
        response = httpx.post(f"{service.base_url}/get/message", content=raw, headers=headers)
        assert response.status_code == 400, raw
        assert response.json()["code"] in (40000, 40002), response.text


def test_unknown_endpoint_and_method(service: ServiceThread, api_key: str) -> None:
    headers = {"Authorization": f"Token {api_key}"}
    response = httpx.post(f"{service.base_url}/no/such/thing", json={}, headers=headers)
    assert (response.status_code, response.json()["code"]) == (404, 40001)
    response = httpx.get(f"{service.base_url}/add/message", headers=headers)
    assert response.status_code == 405
    assert response.json()["data"] is None


def test_a_failed_add_stores_nothing(api: Api) -> None:
    api.ok("/add/message", ADD)
    before = api.ok("/get/message", {**GET, "message_limit_number": 50})

    bad = [*SEED_HOTEL, {"role": "user", "content": "x", "chat_time": "not a time"}]
    api.fails("/add/message", {**ADD, "messages": bad}, 400, 40000)
    api.fails(
        "/add/message", {**ADD, "messages": [{"role": "user", "content": "x" * 40_000}]}, 413, 40013
    )

    assert api.ok("/get/message", {**GET, "message_limit_number": 50}) == before
    search = api.ok("/search/memory", {**SEARCH, "memory_limit_number": 25})
    assert len(search["memory_detail_list"]) == 1


def test_validation_errors_never_use_fastapis_detail_shape(api: Api) -> None:
    response = api.post("/search/memory", {})
    assert "detail" not in response.json()


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({**ADD, "messages": [{"role": "user", "content": "a\u0000b"}]}, "messages[0].content"),
        ({**ADD, "info": {"k": ["ok", "bad\u0000"]}}, "info.k[1]"),
        ({**ADD, "user_id": "\u0000"}, "user_id"),
    ],
)
def test_nul_characters_are_refused_with_their_path(
    api: Api, body: dict[str, Any], where: str
) -> None:
    assert api.fails("/add/message", body, 400, 40000) == (
        f"{where} contains a NUL character (\\u0000)"
    )


def test_emoji_and_rare_cjk_round_trip(api: Api) -> None:
    text = "我喜欢🐼和𠀀𪚥，also ünïcödé"
    api.ok("/add/message", {**ADD, "messages": [{"role": "user", "content": text}]})
    history = api.ok("/get/message", GET)["message_detail_list"]
    assert history[-1]["content"] == text


def test_a_body_over_the_size_limit_is_refused_before_it_is_stored(
    api: Api, service: ServiceThread, api_key: str
) -> None:
    huge = {
        "user_id": "big",
        "conversation_id": "c",
        "messages": [{"role": "user", "content": "x" * 10_000_000}],
    }
    api.fails("/add/message", huge, 413, 40305)

    def chunks() -> Any:  # no Content-Length: the limit is counted as the body streams in
        for _ in range(11):
            yield b" " * 1_000_000

    response = httpx.post(
        f"{service.base_url}/add/message",
        content=chunks(),
        headers={"Authorization": f"Token {api_key}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["code"] == 40305
    history = api.ok("/get/message", {"user_id": "big", "conversation_id": "c"})
    assert history["message_detail_list"] == []
