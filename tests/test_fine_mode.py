"""Fine mode: LLM extraction, reconciliation and history, against a scripted OpenAI-compatible
server reached through the real ``openai`` client."""

from __future__ import annotations

from typing import Any

from tests.fake_llm import FakeLLM, Reply, reply_json
from tests.support.api import Api
from tests.support.conversations import ENGLISH_TRIP, SEED_FAMILY_TRIP, SEED_HOTEL
from tests.support.database import sql

HOTEL_FACT = {
    "memory_key": "暑假广州旅游计划",
    "memory_value": "[user观点]用户计划在暑假期间前往广州旅游，并选择了七天连锁酒店作为住宿选项。",
    "tags": ["旅游", "广州", "住宿", "酒店"],
    "memory_type": "UserMemory",
    "memory_time": None,
    "confidence": 0.95,
}
HOTEL_PREFERENCE = {
    "preference_type": "implicit_preference",
    "preference": "用户可能偏好性价比较高的酒店选择。",
    "reasoning": "七天酒店通常以经济实惠著称，用户在多个选项中选择七天，可能表明其重视性价比。",
    "tags": ["酒店"],
    "confidence": 0.7,
}


def facts(*items: dict[str, Any]) -> Reply:
    return reply_json({"memories": list(items)})


def preferences(*items: dict[str, Any]) -> Reply:
    return reply_json({"preferences": list(items)})


def fact(value: str, key: str = "居住地", **extra: Any) -> dict[str, Any]:
    return {"memory_key": key, "memory_value": value, "tags": ["居住"], **extra}


def add(api: Api, messages: list[dict[str, Any]], conversation: str = "c1") -> dict[str, Any]:
    data: dict[str, Any] = api.ok(
        "/add/message",
        {
            "user_id": "u1",
            "conversation_id": conversation,
            "messages": messages,
            "async_mode": False,
        },
    )
    return data


def search(api: Api, query: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = api.ok(
        "/search/memory", {"user_id": "u1", "query": query, "memory_limit_number": 25, **extra}
    )
    return data


def say(text: str, when: str | None = None) -> list[dict[str, Any]]:
    message: dict[str, Any] = {"role": "user", "content": text}
    if when:
        message["chat_time"] = when
    return [message, {"role": "assistant", "content": "好的，我记住了。"}]


def test_the_seed_hotel_conversation_gives_fact_and_preference(
    fine_api: Api, fake_llm: FakeLLM, pg_url: str
) -> None:
    fake_llm.script({"facts": facts(HOTEL_FACT), "preferences": preferences(HOTEL_PREFERENCE)})

    task = add(fine_api, SEED_HOTEL, "0610")

    assert task["status"] == "completed"
    found = search(fine_api, "我国庆想出去玩，帮我推荐个没住过的酒店品牌")
    [memory] = found["memory_detail_list"]  # the fast memory was replaced, not kept beside it
    assert {k: memory[k] for k in ("memory_key", "memory_value", "tags", "memory_type")} == {
        k: HOTEL_FACT[k] for k in ("memory_key", "memory_value", "tags", "memory_type")
    }
    assert memory["confidence"] == 0.95
    assert memory["conversation_id"] == "0610"
    [preference] = found["preference_detail_list"]
    assert preference["preference_type"] == "implicit_preference"
    assert preference["preference"] == HOTEL_PREFERENCE["preference"]
    assert preference["reasoning"] == HOTEL_PREFERENCE["reasoning"]
    assert found["preference_note"].startswith("请在回答中遵循以上用户偏好")

    # Chinese in, Chinese prompts out: the model saw the conversation with times and speakers.
    [fact_call] = fake_llm.calls("facts")
    prompt = fact_call["messages"][0]["content"]
    assert "# 任务：抽取事实记忆" in prompt
    assert "] user: 我选七天" in prompt
    assert fact_call["response_format"] == {"type": "json_object"}
    assert fact_call["model"] == "fake-model"
    stored = sql(
        pg_url,
        "SELECT kind, mode, status, prompt_version FROM memories WHERE task_id = :t"
        " ORDER BY kind, mode",
        t=task["task_id"],
    )
    # The conversation's two fast windows (one exchange each) give way to the refined memories.
    assert stored == [
        *[{"kind": "fact", "mode": "fast", "status": "archived", "prompt_version": None}] * 2,
        {"kind": "fact", "mode": "fine", "status": "activated", "prompt_version": "facts-zh-v1"},
        {
            "kind": "preference",
            "mode": "fine",
            "status": "activated",
            "prompt_version": "preferences-zh-v1",
        },
    ]
    usage = sql(
        pg_url, "SELECT llm_calls, prompt_tokens FROM tasks WHERE id = :t", t=task["task_id"]
    )
    assert usage[0]["llm_calls"] == 2
    assert usage[0]["prompt_tokens"] > 0


def test_english_conversations_get_english_prompts(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script(
        {
            "facts": facts(
                {
                    "memory_key": "Summer family trip",
                    "memory_value": "[user viewpoint] The user plans a summer trip with "
                    "their kids and parents.",
                    "tags": ["travel", "family"],
                    "memory_type": "UserMemory",
                }
            ),
            "preferences": preferences(
                {
                    "preference_type": "explicit_preference",
                    "preference": "The user always prefers beaches over mountains.",
                    "reasoning": "The user said 'Beaches, always.'",
                }
            ),
        }
    )

    add(fine_api, ENGLISH_TRIP)

    assert "# Task: extract fact memories" in fake_llm.calls("facts")[0]["messages"][0]["content"]
    found = search(fine_api, "Where should the family go on holiday?")
    assert found["memory_detail_list"][0]["memory_value"].startswith("[user viewpoint]")
    assert found["preference_detail_list"][0]["preference_type"] == "explicit_preference"
    assert found["preference_note"].startswith("Respect the user preferences")


def test_relative_dates_reach_the_model_with_the_message_time(
    fine_api: Api, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        {
            "facts": facts(
                fact(
                    "[user观点]用户计划于2025-06-14（周六）带孩子去动物园。",
                    key="周六去动物园",
                    memory_time="2025-06-14",
                )
            )
        }
    )

    add(fine_api, say("我下周六要带孩子去动物园", when="2025-06-10 09:30:00"))

    prompt = fake_llm.calls("facts")[0]["messages"][0]["content"]
    assert "[2025-06-10 09:30:00 (Tuesday)] user: 我下周六要带孩子去动物园" in prompt
    [memory] = search(fine_api, "动物园")["memory_detail_list"]
    assert memory["memory_time"] == "2025-06-14 00:00:00"
    assert "2025-06-14" in memory["memory_value"]


def test_a_duplicate_is_not_stored_again(fine_api: Api, fake_llm: FakeLLM, pg_url: str) -> None:
    fake_llm.script({"facts": facts(fact("[user观点]用户住在北京。"))})
    add(fine_api, say("我住在北京"), "a")
    add(fine_api, say("我家在北京"), "b")

    assert fake_llm.calls("reconcile") == []  # an exact duplicate needs no model call
    values = [m["memory_value"] for m in search(fine_api, "北京")["memory_detail_list"]]
    assert values == ["[user观点]用户住在北京。"]


def test_update_keeps_the_id_and_writes_history(
    fine_api: Api, fake_llm: FakeLLM, pg_url: str
) -> None:
    fake_llm.script({"facts": facts(fact("[user观点]用户住在北京。"))})
    add(fine_api, say("我住在北京"), "a")
    [before] = search(fine_api, "住在哪里")["memory_detail_list"]

    merged = "[user观点]用户住在北京朝阳区，离公司很近。"
    fake_llm.script(
        {
            "facts": facts(fact("[user观点]用户住在朝阳区，离公司很近。")),
            "reconcile": reply_json({"action": "UPDATE", "id": 1, "memory_value": merged}),
        }
    )
    add(fine_api, say("我住朝阳区，离公司很近"), "b")

    [reconcile_call] = fake_llm.calls("reconcile")
    assert "1. [user观点]用户住在北京。" in reconcile_call["messages"][0]["content"]
    [after] = search(fine_api, "住在哪里")["memory_detail_list"]
    assert after["id"] == before["id"]
    assert after["memory_value"] == merged
    assert after["update_time"] >= before["update_time"]
    history = sql(
        pg_url,
        "SELECT event, old_value, new_value, cardinality(source_message_ids) AS sources"
        " FROM memory_history WHERE memory_id = :m ORDER BY id",
        m=before["id"],
    )
    assert [(h["event"], h["old_value"], h["new_value"]) for h in history] == [
        ("ADD", None, "[user观点]用户住在北京。"),
        ("UPDATE", "[user观点]用户住在北京。", merged),
    ]
    assert all(h["sources"] == 2 for h in history)


def test_a_contradiction_archives_the_old_memory(
    fine_api: Api, fake_llm: FakeLLM, pg_url: str
) -> None:
    fake_llm.script({"facts": facts(fact("[user观点]用户住在北京。"))})
    add(fine_api, say("我住在北京"), "a")
    [old] = search(fine_api, "用户住在哪个城市")["memory_detail_list"]

    fake_llm.script(
        {
            "facts": facts(fact("[user观点]用户已经从北京搬到了上海。")),
            "reconcile": reply_json({"action": "ARCHIVE", "id": 1}),
        }
    )
    add(fine_api, say("我已经不住北京了，搬到上海了"), "b")

    values = [m["memory_value"] for m in search(fine_api, "用户住在哪个城市")["memory_detail_list"]]
    assert values == ["[user观点]用户已经从北京搬到了上海。"]
    [archived] = sql(pg_url, "SELECT status FROM memories WHERE id = :m", m=old["id"])
    assert archived["status"] == "archived"
    events = sql(
        pg_url, "SELECT event, new_value FROM memory_history WHERE memory_id = :m", m=old["id"]
    )
    assert ("ARCHIVE", "[user观点]用户已经从北京搬到了上海。") in [
        (e["event"], e["new_value"]) for e in events
    ]


def test_none_adds_nothing(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({"facts": facts(fact("[user观点]用户住在北京。"))})
    add(fine_api, say("我住在北京"), "a")
    fake_llm.script(
        {
            "facts": facts(fact("[user观点]用户的住址在北京市。")),
            "reconcile": reply_json({"action": "NONE", "id": None}),
        }
    )
    add(fine_api, say("我的地址在北京市"), "b")

    assert len(fake_llm.calls("reconcile")) == 1
    values = [m["memory_value"] for m in search(fine_api, "北京")["memory_detail_list"]]
    assert values == ["[user观点]用户住在北京。"]


def test_an_invented_id_is_refused_and_asked_again(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({"facts": facts(fact("[user观点]用户住在北京。"))})
    add(fine_api, say("我住在北京"), "a")
    answers = iter(
        [
            reply_json({"action": "UPDATE", "id": 7, "memory_value": "x"}),
            reply_json({"action": "ADD", "id": None}),
        ]
    )
    fake_llm.script(
        {
            "facts": facts(fact("[user观点]用户喜欢北京的秋天。", key="喜欢的季节")),
            "reconcile": lambda request: next(answers),
        }
    )
    add(fine_api, say("我最喜欢北京的秋天"), "b")

    calls = fake_llm.calls("reconcile")
    assert len(calls) == 2
    assert "id must be one of 1..1" in calls[1]["messages"][-1]["content"]
    assert len(search(fine_api, "北京")["memory_detail_list"]) == 2


def test_without_related_memories_there_is_no_reconciliation_call(
    fine_api: Api, fake_llm: FakeLLM
) -> None:
    fake_llm.script({"facts": facts(HOTEL_FACT), "preferences": preferences(HOTEL_PREFERENCE)})
    add(fine_api, SEED_HOTEL)
    assert len(fake_llm.calls()) == 2


def test_fine_memories_are_found_by_the_seed_search(fine_api: Api, fake_llm: FakeLLM) -> None:
    family = {
        "memory_key": "暑假全家出游计划",
        "memory_value": "[user观点]用户计划在暑假进行一次家庭旅行，携带孩子和老人，全家一起行动。",
        "tags": ["暑假", "家庭旅行", "计划"],
        "memory_type": "UserMemory",
    }
    helper = {
        "memory_key": "家庭旅行需求",
        "memory_value": "[assistant观点]助手了解到用户将和家人一起旅行，并计划为其推荐适合"
        "家庭出游的目的地。",
        "tags": ["家庭旅行", "推荐"],
        "memory_type": "LongTermMemory",
    }
    fake_llm.script({"facts": facts(family, helper)})
    add(fine_api, SEED_FAMILY_TRIP, "0610")

    found = search(fine_api, "国庆去哪玩")["memory_detail_list"]
    assert {m["memory_key"] for m in found} == {"暑假全家出游计划", "家庭旅行需求"}
    assert {m["memory_type"] for m in found} == {"UserMemory", "LongTermMemory"}


def test_a_fine_memory_keeps_the_adds_tags_and_the_conversations_time(
    fine_api: Api, fake_llm: FakeLLM
) -> None:
    dated = fact("用户住在上海。", memory_time="2025-08-01")
    fake_llm.script({"facts": facts(fact("用户住在北京。"), dated), "preferences": preferences()})
    body = {"user_id": "u1", "conversation_id": "t1", "async_mode": False, "tags": ["项目X"]}
    messages = say("我住在北京。", "2023-01-01T10:00:00+08:00")

    assert fine_api.ok("/add/message", body | {"messages": messages})["status"] == "completed"

    where = {"tags": {"contains": "项目X"}}
    listed = fine_api.ok("/get/memory", {"user_id": "u1", "filter": where})["memory_detail_list"]
    by_value = {m["memory_value"].removeprefix("[user观点]"): m for m in listed}
    beijing, shanghai = by_value["用户住在北京。"], by_value["用户住在上海。"]
    assert beijing["tags"] == shanghai["tags"] == ["项目X", "居住"]
    # No date from the model: the time the conversation was held, as a fast memory has.
    assert beijing["memory_time"] == "2023-01-01 02:00:00"
    assert shanghai["memory_time"] == "2025-08-01 00:00:00"
