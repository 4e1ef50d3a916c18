"""The strings a client names things with: every one an index holds has a length limit (a
setting, docs/operations.md, "Limits"), refused with 413 past it instead of a 500 from Postgres;
no id may be white space only."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.support.api import Api

USER = "strings-user"
TURN = [{"role": "user", "content": "我住在广州，喜欢七天酒店"}]


def text(chars: int, seed: int = 0) -> str:
    """Random CJK: 3 bytes a character, and nothing Postgres' compression can shrink (a
    repeated character fits an index entry at any length once compressed)."""
    rng = random.Random(seed)
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(chars))


def add(conversation: str, **fields: Any) -> dict[str, Any]:
    return {"user_id": USER, "conversation_id": conversation, "messages": TURN, **fields}


# (path, the body at the limit, the body one past it, what the message names). Each body its own
# conversation, so that no add is taken for a repeat of another.
EDGES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("/add/message", add("a1", agent_id=text(100)), add("a2", agent_id=text(101)), "agent_id"),
    ("/add/message", add("a3", app_id=text(100)), add("a4", app_id=text(101)), "app_id"),
    ("/add/message", add("a5", tags=[text(100)]), add("a6", tags=["t", text(101)]), "tags[1]"),
    ("/add/message", add("a7", tags=["t"] * 50), add("a8", tags=["t"] * 51), "tags has 51"),
    ("/add/message", add("a9", info={text(200): 1}), add("b1", info={text(201): 1}), "info"),
    (
        "/add/message",
        add("b2", info={"城市": [{text(200): "广州"}]}),
        add("b3", info={"城市": [{text(201): "广州"}]}),
        "info has a key",
    ),
    (
        "/add/message",
        add("b4", info={"备注": text(31_991)}),
        add("b5", info={"备注": text(31_992)}),
        "info is 32,001 characters",
    ),
    (
        "/add/feedback",
        {"user_id": USER, "feedback_content": "我搬到上海了", "agent_id": text(100)},
        {"user_id": USER, "feedback_content": "我搬到上海了", "agent_id": text(101)},
        "agent_id",
    ),
    (
        "/add/feedback",
        {"user_id": USER, "feedback_content": "我搬到上海了", "app_id": text(100)},
        {"user_id": USER, "feedback_content": "我搬到上海了", "app_id": text(101)},
        "app_id",
    ),
    (
        "/search/memory",
        {"user_id": USER, "query": "酒店", "agent_id": text(100)},
        {"user_id": USER, "query": "酒店", "agent_id": text(101)},
        "agent_id",
    ),
    ("/get/memory", {"agent_id": text(100)}, {"agent_id": text(101)}, "agent_id"),
    # Another agent: the one of a1 keeps its memory.
    ("/delete/memory", {"agent_id": text(100, 1)}, {"agent_id": text(101)}, "agent_id"),
]


def test_hardening_07_indexed_strings_have_length_limits(api: Api) -> None:
    for path, at_limit, over, named in EDGES:
        api.ok(path, at_limit)
        message = api.fails(path, over, 413, 40305)
        assert message.startswith(named), (path, message)
    # What was refused was not stored; what was at the limit reads back whole.
    listed = api.ok("/get/memory", {"user_id": USER, "size": 50})["memory_detail_list"]
    assert {m["conversation_id"] for m in listed} >= {"a1", "a3", "a5", "a7", "a9", "b2", "b4"}
    assert not {m["conversation_id"] for m in listed} & {"a2", "a4", "a6", "a8", "b1", "b3", "b5"}
    [tagged] = [m for m in listed if m["conversation_id"] == "a5"]
    assert text(100) in tagged["tags"]


def test_hardening_07_long_labels_are_a_413_not_a_500(api: Api) -> None:
    """A thousand CJK characters (3,000 bytes) broke the b-tree and GIN entries they went in."""
    for field in ("agent_id", "app_id"):
        message = api.fails("/add/message", add(f"long-{field}", **{field: text(1000)}), 413, 40305)
        assert message == f"{field} is longer than 100 characters"
    message = api.fails("/add/message", add("long-tag", tags=[text(1000)]), 413, 40305)
    assert message == "tags[0] is longer than 100 characters"


def test_hardening_07_chat_checks_what_it_would_store(fine_api: Api) -> None:
    body = {"user_id": USER, "conversation_id": "chat", "query": "我住在哪里"}
    for extra, named in [
        ({"agent_id": text(101)}, "agent_id"),
        ({"app_id": text(101)}, "app_id"),
        ({"tags": [text(101)]}, "tags[0]"),
        ({"info": {text(201): 1}}, "info"),
    ]:
        assert fine_api.fails("/chat", {**body, **extra}, 413, 40305).startswith(named)


BLANKS = [" ", "   ", "\t", "\n", "\u3000"]  # U+3000: the ideographic (full-width) space
# Every endpoint, and a body it accepts; the id fields it takes, each to be made blank.
ENDPOINTS: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "/add/message",
        add("c1", agent_id="a", app_id="p", allow_knowledgebase_ids=["kb"]),
        ["user_id", "conversation_id", "agent_id", "app_id", "allow_knowledgebase_ids"],
    ),
    ("/get/message", {"user_id": USER, "conversation_id": "c1"}, ["user_id", "conversation_id"]),
    (
        "/search/memory",
        {"user_id": USER, "query": "酒店", "conversation_id": "c1", "knowledgebase_ids": ["kb"]},
        ["user_id", "conversation_id", "agent_id", "knowledgebase_ids"],
    ),
    ("/get/memory", {"user_id": USER}, ["user_id", "agent_id"]),
    ("/delete/memory", {"user_id": "nobody"}, ["user_id", "agent_id", "memory_ids"]),
    (
        "/update/memory",
        {"memory_id": "00000000-0000-0000-0000-000000000000", "title": "t"},
        ["memory_id"],
    ),
    (
        "/add/feedback",
        {"user_id": "nobody", "feedback_content": "我搬到上海了"},
        ["user_id", "conversation_id", "agent_id", "app_id", "allow_knowledgebase_ids"],
    ),
    (
        "/chat",
        {"user_id": USER, "conversation_id": "c1", "query": "hi"},
        ["user_id", "conversation_id", "agent_id", "app_id"],
    ),
    ("/get/status", {"task_id": "00000000-0000-0000-0000-000000000000"}, ["task_id"]),
    ("/console/conversations", {"user_id": USER}, ["user_id"]),
    (
        "/console/messages",
        {"user_id": USER, "conversation_id": "c1"},
        ["user_id", "conversation_id"],
    ),
    ("/console/memories", {"user_id": USER}, ["user_id"]),
    ("/console/history", {"memory_id": "00000000-0000-0000-0000-000000000000"}, ["memory_id"]),
]


@pytest.mark.parametrize(("path", "body", "fields"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_hardening_09_blank_ids_are_refused_naming_the_field(
    api: Api, path: str, body: dict[str, Any], fields: list[str]
) -> None:
    for field in fields:
        for blank in BLANKS:
            is_list = field.endswith("_ids")
            sent = {**body, field: [blank] if is_list else blank}
            if path == "/delete/memory":  # exactly one selector
                sent = {field: [blank] if is_list else blank}
            named = f"{field}[0]" if is_list else field
            message = api.fails(path, sent, 400, 40002)
            assert message == f"{named} must not be blank", (path, field, repr(blank), message)
    assert api.ok("/console/users", {})["total"] == 0  # nothing was stored for anyone


@pytest.mark.parametrize("blank", BLANKS)
def test_a_blank_query_is_refused_as_chat_refuses_it(api: Api, blank: str) -> None:
    """A query of white space only asks nothing: search and rerank refuse it, as chat does."""
    for path, body in (
        ("/search/memory", {"user_id": USER, "query": blank}),
        ("/rerank", {"query": blank, "documents": ["a", "b"]}),
    ):
        assert api.fails(path, body, 400, 40002) == "query must not be blank"


def test_ids_with_white_space_around_them_are_kept_as_sent(api: Api) -> None:
    api.ok("/add/message", {**add(" 对话 "), "user_id": " 用户 ", "agent_id": "\t代理"})
    [user] = api.ok("/console/users", {})["users"]
    assert user["user_id"] == " 用户 "
    [memory] = api.ok("/get/memory", {"user_id": " 用户 "})["memory_detail_list"]
    assert (memory["conversation_id"], memory["agent_id"]) == (" 对话 ", "\t代理")
    assert api.ok("/get/memory", {"user_id": "用户"})["total"] == 0
