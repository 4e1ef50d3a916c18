"""extract/memory: the memories an add would make, stored nowhere; fine mode through the
scripted LLM, fast mode (no LLM) as the windows an add would store."""

from __future__ import annotations

from typing import Any

from tests.fake_llm import FakeLLM, Reply, reply_json
from tests.support.api import Api
from tests.support.conversations import ENGLISH_TRIP, SEED_HOTEL
from tests.support.database import counts_in_project, sql

TABLES = ("messages", "memories", "memory_history", "tasks", "jobs", "feedback")
HOTEL_FACT = {
    "memory_key": "暑假广州旅游住宿",
    "memory_value": "[user观点]用户计划暑假去广州旅游，选择住七天连锁酒店。",
    "tags": ["旅游", "酒店"],
    "memory_type": "UserMemory",
    "confidence": 0.9,
}
HOTEL_PREFERENCE = {
    "preference_type": "implicit_preference",
    "preference": "用户可能偏好经济型连锁酒店。",
    "reasoning": "用户在几个选项中选择了七天。",
}


def counts(pg_url: str, api: Api) -> dict[str, int]:
    assert api.key is not None
    return counts_in_project(pg_url, api.key, TABLES)


def extract(api: Api, messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = api.ok("/extract/memory", {"messages": messages, **extra})
    return data


def test_fine_mode_extracts_facts_and_preferences_and_stores_nothing(
    fine_api: Api, fake_llm: FakeLLM, pg_url: str
) -> None:
    fake_llm.script(
        {
            "facts": reply_json({"memories": [HOTEL_FACT]}),
            "preferences": reply_json({"preferences": [HOTEL_PREFERENCE]}),
        }
    )
    before = counts(pg_url, fine_api)

    data = extract(fine_api, SEED_HOTEL)

    assert counts(pg_url, fine_api) == before
    assert data["mode"] == "fine"
    assert data["note"] is None
    assert data["success"] is True
    assert data["memory_detail_list"] == [
        {k: HOTEL_FACT[k] for k in ("memory_key", "memory_value", "memory_type", "tags")}
    ]
    assert data["preference_detail_list"] == [HOTEL_PREFERENCE]
    # Chinese messages get the Chinese prompts, and no reconciliation is asked for.
    assert len(fake_llm.calls("facts")) == 1
    assert "# 任务：抽取事实记忆" in fake_llm.calls("facts")[0]["messages"][0]["content"]
    assert "user: 我选七天" in fake_llm.calls("facts")[0]["messages"][0]["content"]
    assert fake_llm.calls("reconcile") == []


def test_extraction_types_ask_only_for_what_is_wanted(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({"preferences": reply_json({"preferences": [HOTEL_PREFERENCE]})})

    data = extract(fine_api, SEED_HOTEL, extraction_types=["preference"], model="memos-0.6b")

    assert data["memory_detail_list"] == []
    assert [p["preference"] for p in data["preference_detail_list"]] == [
        HOTEL_PREFERENCE["preference"]
    ]
    assert fake_llm.calls("facts") == []
    assert len(fake_llm.calls("preferences")) == 1


def test_english_messages_get_english_prompts(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({})

    extract(fine_api, ENGLISH_TRIP, extraction_types=["memory"])

    [call] = fake_llm.calls()
    assert "# Task: extract fact memories" in call["messages"][0]["content"]


def test_fast_mode_returns_the_windows_an_add_would_store(api: Api, pg_url: str) -> None:
    before = counts(pg_url, api)

    data = extract(api, SEED_HOTEL)

    assert counts(pg_url, api) == before
    assert data["mode"] == "fast"
    assert "no LLM" in data["note"]
    assert data["preference_detail_list"] == []
    values = [m["memory_value"] for m in data["memory_detail_list"]]
    assert values
    assert "user: 我选七天" in "\n".join(values)
    assert all(m["tags"] == ["mode:fast"] for m in data["memory_detail_list"])

    # The same windows an add stores.
    task = api.ok(
        "/add/message",
        {"user_id": "u1", "conversation_id": "c1", "messages": SEED_HOTEL, "async_mode": False},
    )
    stored = sql(
        pg_url,
        "SELECT memory_key, memory_value FROM memories WHERE task_id = :t",
        t=task["task_id"],
    )
    assert sorted((m["memory_key"], m["memory_value"]) for m in stored) == sorted(
        (m["memory_key"], m["memory_value"]) for m in data["memory_detail_list"]
    )


def test_a_group_chats_speakers_label_its_lines_as_an_add_does(api: Api, pg_url: str) -> None:
    said = [
        {"role": "user", "role_id": "u_xm", "role_name": "小明", "content": "我下周去杭州。"},
        {"role": "user", "role_id": "u_xh", "content": "我也去。"},
    ]

    data = extract(api, said)

    task = api.ok(
        "/add/message",
        {"user_id": ["u_xm", "u_xh"], "conversation_id": "g1", "messages": said},
    )
    stored = sql(pg_url, "SELECT memory_value FROM memories WHERE task_id = :t", t=task["task_id"])
    values = [m["memory_value"] for m in data["memory_detail_list"]]
    assert values == ["小明: 我下周去杭州。\nu_xh: 我也去。"]
    assert {m["memory_value"] for m in stored} == set(values)
    long_name = [{**said[0], "role_name": "名" * 101}]
    assert "role_name" in api.fails("/extract/memory", {"messages": long_name}, 413, 40305)


def test_recalled_blocks_are_left_out(api: Api) -> None:
    data = extract(
        api, [{"role": "user", "content": "<memories>用户住在火星</memories>\n我下周去杭州"}]
    )

    [memory] = data["memory_detail_list"]
    assert memory["memory_value"] == "user: 我下周去杭州"


def test_bad_requests_are_refused(api: Api) -> None:
    api.fails("/extract/memory", {"messages": []}, 400, 40002)
    api.fails(
        "/extract/memory",
        {"messages": SEED_HOTEL, "extraction_types": ["memory", "skill"]},
        400,
        40006,
    )
    api.fails("/extract/memory", {"messages": [{"role": "user", "content": "x"}] * 201}, 413, 40013)
    api.fails(
        "/extract/memory", {"messages": [{"role": "user", "content": "长" * 32_001}]}, 413, 40013
    )


def test_an_unusable_model_answer_is_a_503(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({"facts": Reply(content="not json at all")})

    fine_api.fails("/extract/memory", {"messages": SEED_HOTEL}, 503, 50004)
    assert len(fake_llm.calls("facts")) == 2  # asked once more, shown why


def test_an_unusable_preferences_answer_is_a_503_not_none_found(
    fine_api: Api, fake_llm: FakeLLM
) -> None:
    fake_llm.script({"preferences": Reply(content="抱歉，无法回答。")})

    refused = fine_api.fails("/extract/memory", {"messages": SEED_HOTEL}, 503, 50004)
    assert "preferences" in refused
