"""add/message and get/message over real HTTP, against a real Postgres."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.conversations import ENGLISH_TRIP, SEED_FAMILY_TRIP, SEED_HOTEL


def add(api: Api, messages: list[dict[str, Any]], conversation: str = "c1", **extra: Any) -> Any:
    return api.ok(
        "/add/message",
        {"user_id": "u1", "conversation_id": conversation, "messages": messages, **extra},
    )


def all_memories(api: Api, query: str = "anything", user: str = "u1") -> list[dict[str, Any]]:
    # relativity 0: every memory, whatever the query (the default floor drops unrelated ones).
    body = {"user_id": user, "query": query, "memory_limit_number": 25, "relativity": 0}
    data = api.ok("/search/memory", body)
    memories: list[dict[str, Any]] = data["memory_detail_list"]
    return memories


def test_add_answers_a_completed_task_and_get_status_reports_it(api: Api) -> None:
    data = add(api, SEED_FAMILY_TRIP, "0610")

    assert data["success"] is True
    assert data["status"] == "completed"
    status = api.ok("/get/status", {"task_id": data["task_id"]})
    [task] = status
    assert (task["task_id"], task["status"], task["error"]) == (data["task_id"], "completed", None)
    assert set(task["memory_views"]) == {"added", "updated", "deleted"}


def test_get_message_returns_the_seed_conversation_in_order(api: Api) -> None:
    add(api, SEED_FAMILY_TRIP, "0610")

    data = api.ok(
        "/get/message",
        {"user_id": "u1", "conversation_id": "0610", "message_limit_number": 50},
    )

    got = [(m["role"], m["content"]) for m in data["message_detail_list"]]
    assert got == [(m["role"], m["content"]) for m in SEED_FAMILY_TRIP]
    assert all(
        len(m["create_time"]) == len("2025-06-10 09:30:00") for m in data["message_detail_list"]
    )


def test_get_message_keeps_the_most_recent_n_oldest_first(api: Api) -> None:
    add(api, SEED_FAMILY_TRIP[:4], "c")
    add(api, SEED_FAMILY_TRIP[4:], "c")

    data = api.ok("/get/message", {"user_id": "u1", "conversation_id": "c"})  # default 6
    assert [m["content"] for m in data["message_detail_list"]] == [
        m["content"] for m in SEED_FAMILY_TRIP
    ]
    data = api.ok(
        "/get/message", {"user_id": "u1", "conversation_id": "c", "message_limit_number": 2}
    )
    assert [m["content"] for m in data["message_detail_list"]] == [
        m["content"] for m in SEED_FAMILY_TRIP[4:]
    ]


def test_chat_time_is_kept_on_messages_and_memories(api: Api) -> None:
    messages = [
        {"role": "user", "content": "我下周六去动物园", "chat_time": "2025-06-10 09:30:00"},
        {"role": "assistant", "content": "好的，记得带水。", "chat_time": "2025-06-10T09:31:00Z"},
    ]
    add(api, messages)

    history = api.ok("/get/message", {"user_id": "u1", "conversation_id": "c1"})
    assert [m["create_time"] for m in history["message_detail_list"]] == [
        "2025-06-10 09:30:00",
        "2025-06-10 09:31:00",
    ]
    [memory] = all_memories(api, "动物园")
    assert memory["memory_time"] == "2025-06-10 09:30:00"


def test_fast_memories_hold_the_turns_verbatim_with_speakers(api: Api) -> None:
    add(api, SEED_HOTEL, "0610")

    memories = all_memories(api, "酒店")
    text = "\n".join(m["memory_value"] for m in memories)
    for message in SEED_HOTEL:
        assert f"{message['role']}: {message['content']}" in text
    for memory in memories:
        assert memory["tags"] == ["mode:fast"]
        assert memory["memory_type"] == "LongTermMemory"  # user and assistant both speak
        assert memory["conversation_id"] == "0610"
        assert memory["status"] == "activated"
        assert 0 < len(memory["memory_key"]) <= 40
        assert memory["memory_key"] in memory["memory_value"]


def test_only_the_user_speaking_makes_a_user_memory(api: Api) -> None:
    add(api, [{"role": "user", "content": "I always travel with my two dogs."}])

    [memory] = all_memories(api, "dogs")
    assert memory["memory_type"] == "UserMemory"
    assert memory["memory_key"] == "I always travel with my two dogs"


def test_english_and_mixed_language_conversations(api: Api) -> None:
    add(api, ENGLISH_TRIP, "en")
    add(
        api,
        [
            {"role": "user", "content": "下个月我要去 Tokyo 出差, staying at the Park Hyatt."},
            {"role": "assistant", "content": "好的, enjoy your trip!"},
        ],
        "mixed",
    )

    best = all_memories(api, "Which hotel in Tokyo?")[0]
    assert "Park Hyatt" in best["memory_value"]
    best = all_memories(api, "Where does the family like to go in summer?")[0]
    assert best["conversation_id"] == "en"


def test_a_long_message_is_chunked_not_truncated(api: Api) -> None:
    sentences = [f"Fact number {i}: the user's locker code {i} is {1000 + i}." for i in range(60)]
    add(api, [{"role": "user", "content": " ".join(sentences)}], "long")

    memories = all_memories(api, "locker code")
    assert len(memories) > 1
    stored = " ".join(m["memory_value"] for m in memories)
    for sentence in sentences:
        assert sentence in stored  # every sentence is in some chunk, none was dropped
    keys = sorted(m["memory_key"] for m in memories)
    assert all(key.endswith(f"/{len(memories)})") for key in keys)


def test_long_chinese_message_is_chunked(api: Api) -> None:
    text = "".join(f"第{i}条：用户喜欢在周末去公园散步并且拍照。" for i in range(80))
    add(api, [{"role": "user", "content": text}], "long-zh")

    memories = all_memories(api, "公园散步")
    assert len(memories) > 1
    memories.sort(key=lambda m: int(m["memory_key"].rsplit("(", 1)[1].split("/")[0]))
    joined = "".join(m["memory_value"].removeprefix("user: ") for m in memories)
    assert joined == text


def test_system_and_tool_turns_are_stored_but_not_remembered(api: Api) -> None:
    add(
        api,
        [
            {"role": "system", "content": "You are a travel agent."},
            {"role": "user", "content": "Book me a train to Hangzhou."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "book"}}],
            },
            {"role": "tool", "content": "booked: G7311", "tool_call_id": "t1"},
        ],
    )

    history = api.ok("/get/message", {"user_id": "u1", "conversation_id": "c1"})
    assert [m["role"] for m in history["message_detail_list"]] == [
        "system",
        "user",
        "assistant",
        "tool",
    ]
    [memory] = all_memories(api, "train")
    assert memory["memory_value"] == "user: Book me a train to Hangzhou."


def test_multimodal_content_round_trips(api: Api) -> None:
    content = [
        {"type": "text", "text": "Here is my passport photo"},
        {"type": "image_url", "image_url": {"url": "https://example.com/p.png"}},
    ]
    add(api, [{"role": "user", "content": content}])

    history = api.ok("/get/message", {"user_id": "u1", "conversation_id": "c1"})
    assert history["message_detail_list"][0]["content"] == content
    [memory] = all_memories(api, "passport")
    assert memory["memory_value"] == "user: Here is my passport photo\n[image]"


def test_sdk_style_payload_with_nulls_and_unknown_fields(api: Api) -> None:
    data = api.ok(
        "/add/message",
        {
            "messages": SEED_HOTEL,
            "user_id": "u1",
            "conversation_id": "c1",
            "info": None,
            "source": None,
            "app_id": None,
            "agent_id": None,
            "allow_public": False,
            "allow_knowledgebase_ids": None,
            "allow_memory_view": None,
            "tags": None,
            "async_mode": True,
            "something_new": {"x": 1},
        },
    )
    assert data["success"] is True
