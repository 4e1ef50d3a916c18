"""add/message's ``source`` and get/message's ``source`` and ``conversation_limit_number``."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.database import sql


def add(api: Api, user: str, conversation: str, text: str, **extra: Any) -> Any:
    message = {"role": "user", "content": text}
    body = {"user_id": user, "conversation_id": conversation, "messages": [message], **extra}
    return api.ok("/add/message", body)


def test_source_is_kept_on_each_message_and_returned(api: Api, pg_url: str) -> None:
    add(api, "src-u", "c1", "我在微信上说：下周去杭州", source="wechat")
    add(api, "src-u", "c1", "I said this in the web app", source="web")
    add(api, "src-u", "c1", "没有来源的消息")

    got = api.ok("/get/message", {"user_id": "src-u", "conversation_id": "c1"})
    details = got["message_detail_list"]
    assert [(m["content"][:6], m["source"]) for m in details] == [
        ("我在微信上说", "wechat"),
        ("I said", "web"),
        ("没有来源的消", None),
    ]
    assert {m["conversation_id"] for m in details} == {"c1"}
    only = api.ok("/get/message", {"user_id": "src-u", "conversation_id": "c1", "source": "wechat"})
    assert [m["source"] for m in only["message_detail_list"]] == ["wechat"]
    # "" is no source, as add/message reads it: no filter.
    every = api.ok("/get/message", {"user_id": "src-u", "conversation_id": "c1", "source": ""})
    assert len(every["message_detail_list"]) == 3
    # The memories made are the same as without it; the rows carry it.
    stored = sql(pg_url, "SELECT DISTINCT source FROM messages WHERE user_id = 'src-u'")
    assert {r["source"] for r in stored} == {"wechat", "web", None}


def test_a_repeat_with_another_source_is_another_add(api: Api) -> None:
    first = add(api, "src-r", "c", "同一句话", source="app")
    again = add(api, "src-r", "c", "同一句话", source="app")
    other = add(api, "src-r", "c", "同一句话", source="bot")
    assert first["task_id"] == again["task_id"]
    assert other["task_id"] != first["task_id"]


def test_source_is_held_to_the_id_limit(api: Api) -> None:
    body = {"user_id": "u", "conversation_id": "c", "messages": [{"role": "user", "content": "x"}]}
    assert "source" in api.fails("/add/message", {**body, "source": "s" * 101}, 413, 40305)
    api.fails("/add/message", {**body, "source": "  "}, 400, 40002)


def test_without_a_conversation_the_users_recent_conversations(api: Api) -> None:
    for i in range(4):
        add(api, "conv-u", f"trip-{i}", f"第{i}次对话：我想去城市{i}")
        add(api, "conv-u", f"trip-{i}", f"conversation {i}, second message")

    got = api.ok(
        "/get/message",
        {"user_id": "conv-u", "conversation_limit_number": 2, "message_limit_number": 1},
    )
    details = got["message_detail_list"]
    # The two most recent conversations, the least recent first, each its newest message.
    assert [(m["conversation_id"], m["content"]) for m in details] == [
        ("trip-2", "conversation 2, second message"),
        ("trip-3", "conversation 3, second message"),
    ]
    everything = api.ok("/get/message", {"user_id": "conv-u", "message_limit_number": 50})
    assert len(everything["message_detail_list"]) == 8  # default 6 conversations: all four
    one = api.ok(
        "/get/message",
        {"user_id": "conv-u", "conversation_id": "trip-0", "conversation_limit_number": 1},
    )
    assert {m["conversation_id"] for m in one["message_detail_list"]} == {"trip-0"}


def test_conversation_limit_number_is_bounded(api: Api) -> None:
    message = api.fails(
        "/get/message", {"user_id": "conv-u", "conversation_limit_number": 21}, 400, 40000
    )
    assert "MEMOS_LIMITS__MAX_CONVERSATIONS_PER_GET" in message
    api.fails("/get/message", {"user_id": "conv-u", "conversation_limit_number": 0}, 400, 40000)
