"""Whatever JSON a client sends gets a 2xx, or a 4xx in the MemOS envelope with a clear message:
never a 500, and never a change to what is already stored.

The input rules (docs/api.md, "Input rules"): text may hold any Unicode character (emoji, rare CJK)
but not U+0000 or a lone surrogate; numbers are finite; nesting stops at 64 levels; the body is
UTF-8 JSON; null means "the default"; unknown fields are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.api import Api
from tests.support.conversations import SEED_HOTEL

USER = "hygiene"
ADD = {"user_id": USER, "conversation_id": "c1", "messages": SEED_HOTEL}
SEARCH = {"user_id": USER, "query": "酒店"}
GET = {"user_id": USER, "conversation_id": "c1", "message_limit_number": 50}
# Every POST endpoint with a body it accepts.
BODIES: dict[str, dict[str, Any]] = {
    "/add/message": ADD,
    "/search/memory": SEARCH,
    "/get/message": GET,
    "/get/memory": {"user_id": USER},
    "/delete/memory": {"user_id": "nobody"},
    "/update/memory": {"memory_id": "00000000-0000-0000-0000-000000000000", "title": "t"},
    "/get/status": {"task_id": "00000000-0000-0000-0000-000000000000"},
    "/add/feedback": {"user_id": "nobody", "feedback_content": "我搬到上海了"},
    "/chat": {"user_id": USER, "conversation_id": "c1", "query": "hi"},
}


def raw(api: Api, path: str, body: bytes, content_type: str = "application/json") -> httpx.Response:
    return api.http.post(path, content=body, headers={"Content-Type": content_type})


def refused(response: httpx.Response) -> str:
    """Assert a 4xx MemOS error envelope; return its message."""
    assert 400 <= response.status_code < 500, response.text
    envelope = response.json()
    assert set(envelope) == {"code", "message", "data"}, envelope
    assert envelope["data"] is None
    assert 40000 <= envelope["code"] < 50000, envelope
    message: str = envelope["message"]
    assert message, envelope
    return message


@pytest.fixture
def stored(api: Api) -> Iterator[dict[str, Any]]:
    """A conversation stored before the garbage; after it, it must read back the same."""
    api.ok("/add/message", ADD)
    before = {
        "messages": api.ok("/get/message", GET),
        "search": api.ok("/search/memory", SEARCH),
        "memories": api.ok("/get/memory", {"user_id": USER, "size": 50}),
    }
    yield before
    assert api.ok("/get/message", GET) == before["messages"]
    assert api.ok("/search/memory", SEARCH) == before["search"]
    assert api.ok("/get/memory", {"user_id": USER, "size": 50}) == before["memories"]


NOT_JSON = [
    (b"[" * 100_000 + b"]" * 100_000, "request body is not valid JSON: it is nested too deeply"),
    (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "request body is not valid JSON: it is nested"),
    (b'{"user_id": "\xff\xfe"}', "request body is not valid JSON: it is not valid UTF-8"),
    (b'{"user_id": "u", ', "request body is not valid JSON (Expecting property name"),
    (b'{"n": ' + b"9" * 5000 + b"}", "request body is not valid JSON: it holds a number with"),
    (b"", "body is required"),
    (b"[]", "request body must be a JSON object"),
    (b'"text"', "request body must be a JSON object"),
    (b"42", "request body must be a JSON object"),
]


def test_bodies_that_are_not_usable_json(api: Api, stored: dict[str, Any]) -> None:
    for path in BODIES:
        for garbage, expected in NOT_JSON:
            message = refused(raw(api, path, garbage))
            assert message.startswith(expected), (path, garbage[:20], message)


def test_a_body_sent_as_something_other_than_json(api: Api, stored: dict[str, Any]) -> None:
    message = refused(raw(api, "/get/message", json.dumps(GET).encode(), "text/plain"))
    assert message == "request body must be a JSON object (Content-Type: application/json)"


NUL_IN_TEXT = [
    ("/add/message", {**ADD, "user_id": "a\u0000"}, "user_id"),
    ("/add/message", {**ADD, "conversation_id": "\u0000"}, "conversation_id"),
    ("/add/message", {**ADD, "agent_id": "a\u0000"}, "agent_id"),
    ("/add/message", {**ADD, "tags": ["ok", "b\u0000d"]}, "tags[1]"),
    ("/add/message", {**ADD, "info": {"k": {"deep": ["\u0000"]}}}, "info.k.deep[0]"),
    (
        "/add/message",
        {**ADD, "messages": [{"role": "user", "content": [{"type": "text", "text": "\u0000"}]}]},
        "messages[0].content[0].text",
    ),
    (
        "/add/message",
        {**ADD, "messages": [{"role": "user", "content": "hi", "tool_call_id": "\u0000"}]},
        "messages[0].tool_call_id",
    ),
    ("/search/memory", {**SEARCH, "query": "酒店\u0000"}, "query"),
    ("/search/memory", {**SEARCH, "filter": {"and": [{"city": "a\u0000"}]}}, "filter.and[0].city"),
    (
        "/get/memory",
        {"user_id": USER, "filter": {"and": [{"tags": {"contains": "\u0000"}}]}},
        "filter.and[0].tags.contains",
    ),
    (
        "/add/feedback",
        {**BODIES["/add/feedback"], "feedback_content": "\u0000"},
        "feedback_content",
    ),
    ("/update/memory", {**BODIES["/update/memory"], "content": "new\u0000"}, "content"),
    ("/chat", {**BODIES["/chat"], "system_prompt": "\u0000"}, "system_prompt"),
    ("/get/status", {"task_id": "\u0000"}, "task_id"),
    ("/search/memory", {**SEARCH, "source": "an unknown field\u0000"}, "source"),
]


def test_nul_is_refused_in_every_text_naming_the_field(api: Api, stored: dict[str, Any]) -> None:
    for path, body, where in NUL_IN_TEXT:
        message = refused(api.post(path, body))
        assert message == f"{where} contains a NUL character (\\u0000)", (path, message)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({**ADD, "info": {"a\u0000b": 1}}, "info has a key that contains a NUL character"),
        ({**SEARCH, "filter": {"and": [{"\u0000": 1}]}}, "filter.and[0] has a key that contains"),
    ],
)
def test_nul_in_a_key_is_refused(api: Api, body: dict[str, Any], expected: str) -> None:
    path = "/add/message" if "messages" in body else "/search/memory"
    assert refused(api.post(path, body)).startswith(expected)


LONE_SURROGATES = [
    ("/add/message", "agent_id", '"\\ud800"'),
    ("/add/message", "user_id", '"a\\udfffb"'),
    ("/add/message", "info", '{"k": "\\ud83d"}'),
    ("/add/message", "info", '{"\\udc00": 1}'),
    ("/add/feedback", "agent_id", '"\\ud800"'),
    ("/search/memory", "agent_id", '"\\ud800"'),
    ("/search/memory", "filter", '{"and": [{"k": "\\ud800"}]}'),
    ("/get/memory", "filter", '{"and": [{"\\ud800": 1}]}'),
    ("/delete/memory", "filter", '{"and": [{"k": "\\ud800"}]}'),
    ("/chat", "query", '"\\ud800"'),
]


def test_lone_surrogates_are_refused(api: Api, stored: dict[str, Any]) -> None:
    """``"\\ud800"`` is valid JSON but no character: it cannot be encoded, hashed or stored."""
    for path, field, json_text in LONE_SURROGATES:
        body = json.dumps(BODIES[path])[:-1] + f', "{field}": {json_text}}}'
        message = refused(raw(api, path, body.encode()))
        assert "lone surrogate" in message, (path, message)
        assert message.startswith(field), (path, message)


def test_a_surrogate_encoded_in_the_bytes_is_refused(api: Api, stored: dict[str, Any]) -> None:
    """CESU-8 bytes for U+D800: Python's JSON reader decodes them as a lone surrogate."""
    body = b'{"user_id": "' + "\ud800".encode("utf-8", "surrogatepass") + b'", "query": "q"}'
    assert "user_id contains a lone surrogate" in refused(raw(api, "/search/memory", body))


def test_a_surrogate_pair_escape_is_an_ordinary_character(api: Api) -> None:
    body = json.dumps({**ADD, "conversation_id": "pair"})[:-1]
    body += (
        ', "messages": [{"role": "user", "content": "I love \\ud83d\\ude00 and \\ud840\\udc00"}]}'
    )
    api.data_of(raw(api, "/add/message", body.encode()))
    history = api.ok("/get/message", {"user_id": USER, "conversation_id": "pair"})
    assert history["message_detail_list"][0]["content"] == "I love 😀 and 𠀀"


def test_nan_and_infinity_are_refused(api: Api, stored: dict[str, Any]) -> None:
    fields = [("/search/memory", "relativity"), ("/chat", "temperature"), ("/add/message", "info")]
    for path, field in fields:
        for token in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
            value = b'{"x": ' + token + b"}" if field == "info" else token
            body = json.dumps(BODIES[path]).encode()[:-1] + b', "' + field.encode() + b'": '
            message = refused(raw(api, path, body + value + b"}"))
            where = "info.x" if field == "info" else field
            assert message == f"{where} is NaN or Infinity, which JSON does not allow", message


HUGE_NUMBERS = [
    ("/search/memory", {**SEARCH, "memory_limit_number": 10**30}, "memory_limit_number must"),
    ("/search/memory", {**SEARCH, "preference_limit_number": 2**63}, "preference_limit_number"),
    ("/search/memory", {**SEARCH, "relativity": 1e308}, "relativity"),
    ("/search/memory", {**SEARCH, "memory_limit_number": -(10**30)}, "memory_limit_number"),
    ("/get/message", {**GET, "message_limit_number": 2**31}, "message_limit_number"),
    ("/get/memory", {"user_id": USER, "size": 10**30}, "size"),
    ("/get/memory", {"user_id": USER, "page": 1e308}, "page"),
    ("/chat", {**BODIES["/chat"], "temperature": 1e308}, "temperature"),
    (
        "/search/memory",
        {**SEARCH, "filter": {"and": [{"create_time": {"gte": 10**40}}]}},
        "filter: create_time",
    ),
    (
        "/add/message",
        {**ADD, "messages": [{"role": "user", "content": "hi", "chat_time": 10**30}]},
        "messages[0].chat_time",
    ),
]


def test_huge_numbers_are_refused_naming_the_field(api: Api, stored: dict[str, Any]) -> None:
    for path, body, expected in HUGE_NUMBERS:
        message = refused(api.post(path, body))
        assert message.startswith(expected), (path, message)


def test_huge_numbers_where_any_number_goes_are_kept_exactly(api: Api) -> None:
    info = {"big": 10**40, "small": -(10**40), "float": 1.5e300, "tiny": 2.5e-300}
    api.ok("/add/message", {**ADD, "conversation_id": "numbers", "info": info})
    memory, _ = api.ok("/get/memory", {"user_id": USER})["memory_detail_list"]
    # Postgres keeps a JSON number as an exact decimal and writes it out without an exponent.
    assert memory["info"] == {**info, "float": 15 * 10**299}
    far_page = api.ok("/get/memory", {"user_id": USER, "page": 10**30})
    assert far_page["memory_detail_list"] == []


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"k": value}
    return value


def test_nesting_stops_at_64_levels(api: Api, stored: dict[str, Any]) -> None:
    # The body is level 1 and info level 2: 62 more objects inside make 64 levels.
    deepest = {**ADD, "user_id": "deep", "info": {"tree": nested(62)}}
    api.ok("/add/message", deepest)
    memory, _ = api.ok("/get/memory", {"user_id": "deep"})["memory_detail_list"]
    assert memory["info"] == {"tree": nested(62)}

    too_deep = {**ADD, "conversation_id": "deeper", "info": {"tree": nested(63)}}
    assert refused(api.post("/add/message", too_deep)) == "info is nested more than 64 levels deep"
    lists: Any = []
    for _ in range(200):
        lists = [lists]
    message = refused(api.post("/search/memory", {**SEARCH, "filter": {"and": lists}}))
    assert message == "filter is nested more than 64 levels deep"


WRONG_TYPES = [
    ("/add/message", {**ADD, "user_id": {"id": 1}}, "user_id"),
    ("/add/message", {**ADD, "messages": {"role": "user", "content": "hi"}}, "messages"),
    ("/add/message", {**ADD, "messages": ["hi"]}, "messages[0]"),
    ("/add/message", {**ADD, "messages": [{"role": ["user"], "content": "hi"}]}, "messages[0]"),
    ("/add/message", {**ADD, "info": "k=v"}, "info"),
    ("/add/message", {**ADD, "tags": {"a": 1}}, "tags"),
    ("/add/message", {**ADD, "async_mode": "perhaps"}, "async_mode"),
    ("/search/memory", {**SEARCH, "query": ["酒店"]}, "query"),
    ("/search/memory", {**SEARCH, "filter": ["and"]}, "filter"),
    ("/search/memory", {**SEARCH, "filter": {"and": "city"}}, "filter"),
    ("/search/memory", {**SEARCH, "memory_limit_number": "many"}, "memory_limit_number"),
    ("/get/memory", {"user_id": USER, "include_preference": {}}, "include_preference"),
    ("/delete/memory", {"memory_ids": "abc"}, "memory_ids"),
    ("/delete/memory", {"memory_ids": [1, 2]}, "memory_ids[0]"),
    ("/update/memory", {**BODIES["/update/memory"], "status": 7}, "status"),
    ("/get/status", {"task_id": 12}, "task_id"),
    ("/chat", {**BODIES["/chat"], "stream": [True]}, "stream"),
]


def test_wrong_types_are_refused_naming_the_field(api: Api, stored: dict[str, Any]) -> None:
    for path, body, field in WRONG_TYPES:
        message = refused(api.post(path, body))
        assert field in message, (path, message)


@pytest.mark.parametrize("path", list(BODIES))
def test_null_for_every_optional_field_means_the_default(api: Api, path: str) -> None:
    body = {**BODIES[path]}
    optional = {
        "/add/message": ["agent_id", "app_id", "tags", "info", "async_mode", "allow_public"],
        "/search/memory": ["memory_limit_number", "relativity", "filter", "include_preference"],
        "/get/message": ["message_limit_number"],
        "/get/memory": ["page", "size", "filter", "include_preference"],
        "/delete/memory": ["memory_ids", "agent_id", "filter", "memory_type"],
        "/update/memory": ["content", "status"],
        "/get/status": [],
        "/add/feedback": ["conversation_id", "feedback_time", "agent_id", "async_mode"],
        "/chat": ["system_prompt", "max_tokens", "temperature", "filter", "stream"],
    }[path]
    body.update(dict.fromkeys(optional))
    response = api.post(path, body)
    # Ids nobody has are a 404; /chat is a 503 on a service without an LLM (this one).
    assert response.status_code == {"/update/memory": 404, "/get/status": 404, "/chat": 503}.get(
        path, 200
    ), response.text


def test_unknown_fields_are_ignored(api: Api) -> None:
    extra = {"source": "sdk", "unknown_flag": True, "mode": None, "你好": ["😀"]}
    api.ok("/add/message", {**ADD, "conversation_id": "extra", **extra})
    api.ok("/search/memory", {**SEARCH, **extra})
    api.ok("/get/message", {**GET, **extra})


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/add/message", {**ADD, "user_id": ""}, "user_id must not be empty"),
        ("/add/message", {**ADD, "messages": [{"role": "user", "content": ""}]}, "messages[0]"),
        ("/search/memory", {**SEARCH, "query": ""}, "query must not be empty"),
        ("/chat", {**BODIES["/chat"], "query": "   "}, "query must not be empty"),
        ("/update/memory", {**BODIES["/update/memory"], "title": "  "}, "title"),
        ("/add/feedback", {**BODIES["/add/feedback"], "feedback_content": ""}, "feedback_content"),
        ("/get/status", {"task_id": ""}, "task_id must not be empty"),
        ("/get/memory", {}, "user_id"),
    ],
)
def test_empty_strings_where_text_is_needed(
    api: Api, path: str, body: dict[str, Any], expected: str
) -> None:
    assert expected in refused(api.post(path, body))


def test_empty_optional_values_are_accepted(api: Api) -> None:
    api.ok("/add/message", {**ADD, "conversation_id": "empty", "tags": [], "info": {}})
    # An empty agent_id is none: the user's memories, as without it (adds store none for "").
    without = api.ok("/search/memory", {**SEARCH, "filter": {}})["memory_detail_list"]
    empty = api.ok("/search/memory", {**SEARCH, "filter": {}, "agent_id": ""})
    assert without
    assert empty["memory_detail_list"] == without


def test_an_empty_id_is_refused_in_a_list_and_absent_where_optional(api: Api) -> None:
    group = {**ADD, "user_id": ["alice", ""], "conversation_id": "g1"}
    assert api.fails("/add/message", group, 400, 40002) == "user_id[1] must not be empty"
    assert api.ok("/get/memory", {"user_id": "alice"})["total"] == 0  # nothing stored
    message = {"role": "user", "content": "我住在北京", "role_id": "", "role_name": ""}
    body = {"user_id": "bob", "conversation_id": "e1", "messages": [message]}
    api.ok("/add/message", body | {"agent_id": "", "app_id": "", "source": ""})
    [memory] = api.ok("/get/memory", {"user_id": "bob"})["memory_detail_list"]
    assert (memory["agent_id"], memory["app_id"]) == (None, None)
    [stored] = api.ok("/get/message", {"user_id": "bob", "conversation_id": "e1"})[
        "message_detail_list"
    ]
    assert stored["content"] == "我住在北京"


def test_emoji_and_rare_cjk_round_trip_everywhere(api: Api) -> None:
    """Extension B (𠀀, 𪚥), astral emoji and a ZWJ sequence, in ids, text, tags and info."""
    user, conversation = "用户𠀀😀", "对话𪚥"
    text = "我喜欢🐼和𠀀𪚥，还有👨‍👩‍👧 family trips"
    tags, info = ["旅行🏖️", "𠀀"], {"城市": "成都🌶️", "𪚥": ["👍"]}
    added = {"user_id": user, "conversation_id": conversation, "tags": tags, "info": info}
    api.ok("/add/message", {**added, "messages": [{"role": "user", "content": text}]})

    history = api.ok("/get/message", {"user_id": user, "conversation_id": conversation})
    assert history["message_detail_list"][0]["content"] == text
    found = api.ok("/search/memory", {"user_id": user, "query": "🐼 𠀀"})["memory_detail_list"]
    assert text in found[0]["memory_value"]
    assert found[0]["conversation_id"] == conversation
    assert set(tags) <= set(found[0]["tags"])
    [memory] = api.ok("/get/memory", {"user_id": user})["memory_detail_list"]
    assert memory["info"] == info
    assert (
        api.ok("/get/memory", {"user_id": user, "filter": {"and": [{"城市": "成都🌶️"}]}})["total"]
        == 1
    )

    updated = api.ok("/update/memory", {"memory_id": memory["id"], "content": "改成🦄𠀁"})
    assert updated["memory"]["memory_value"] == "改成🦄𠀁"
    assert api.get(f"/get/memory/{memory['id']}").json()["data"]["memory_value"] == "改成🦄𠀁"


def test_a_memory_id_in_the_path_that_is_not_one(api: Api) -> None:
    for garbage in ("%00", "%ED%A0%80", "😀", "x" * 5000, "%25%00"):
        message = refused(api.get(f"/get/memory/{garbage}"))
        assert message.startswith("memory not found")


def test_a_wrong_method_gets_405_with_allow(api: Api) -> None:
    response = api.http.put("/add/message", json=ADD)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert refused(response) == "PUT is not allowed here; use POST"
    # The console's static files answer their own 405: files are read.
    console = api.http.post(str(api.http.base_url).split("/api/")[0] + "/console/x", json={})
    assert console.status_code == 405
    assert console.headers["allow"] == "GET, HEAD"
    assert refused(console) == "POST is not allowed here; use GET, HEAD"


def test_an_overlong_idempotency_key_is_a_bad_parameter(api: Api) -> None:
    response = api.http.post("/add/message", json=ADD, headers={"Idempotency-Key": "k" * 201})
    assert response.status_code == 400
    assert "idempotency-key" in refused(response)
