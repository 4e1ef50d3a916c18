"""Event memory (fine mode): episodes extracted by their own prompt when an add names the
``event`` view, reconciled like facts, returned in ``event_detail_list`` by search and get, and
found by the time words of a query ("上周六做了什么" finds last Saturday's event). Against the
scripted OpenAI-compatible server through the real ``openai`` client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fake_llm import FakeLLM, reply_json
from tests.support.api import Api
from tests.support.database import new_api_key, sql
from tests.support.service import ServiceThread

REVIEW = {
    "event_key": "方案评审与交付调整",
    "event_value": "用户与李四于上周二下午完成方案评审，客户对第二版方案表示满意，"
    "希望交付提前到七月底。",
    "event_time": ["上周二下午", "七月底"],
    "event_date": None,
    "event_location": [],
    "event_roles": ["用户", "李四", "客户"],
    "tags": ["工作", "评审"],
    "confidence": 0.9,
}


def events(*items: dict[str, Any]) -> Any:
    return reply_json({"events": list(items)})


def add(api: Api, text: str, conversation: str = "c1", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = api.ok(
        "/add/message",
        {
            "user_id": "u1",
            "conversation_id": conversation,
            "messages": [
                {"role": "user", "content": text},
                {"role": "assistant", "content": "好的，我记住了。"},
            ],
            "async_mode": False,
            **extra,
        },
    )
    return data


def last_saturday(now: datetime) -> datetime:
    monday = (now - timedelta(days=now.weekday() + 7)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return monday + timedelta(days=5)


def test_an_add_naming_the_event_view_stores_its_events(
    fine_api: Api, fine_service: ServiceThread, fake_llm: FakeLLM, pg_url: str
) -> None:
    fake_llm.script({"events": events(REVIEW)})
    said = (
        "上周二下午和李四一起做了方案评审，客户对第二版方案比较满意，但希望把交付时间提前到七月底。"
    )

    task = add(fine_api, said, allow_memory_view=["event", "detail_factual", "preference"])

    assert task["status"] == "completed"
    [call] = fake_llm.calls("events")
    prompt = call["messages"][0]["content"]
    assert "# 任务：抽取事件记忆" in prompt
    assert "] user: 上周二下午和李四" in prompt
    assert len(fake_llm.calls("facts")) == 1
    assert len(fake_llm.calls("preferences")) == 1
    found = fine_api.ok(
        "/search/memory",
        {"user_id": "u1", "query": "最近有什么评审或会议？", "include_memory_view": ["event"]},
    )
    [event] = found["event_detail_list"]
    assert {k: event[k] for k in ("event_key", "event_value", "event_time", "event_roles")} == {
        k: REVIEW[k] for k in ("event_key", "event_value", "event_time", "event_roles")
    }
    assert event["event_type"] == "EventMemory"
    assert event["event_location"] == []
    assert event["conversation_id"] == "c1"
    assert 0 < event["relativity"] <= 1
    # Only the event view was asked for: no facts, no preferences.
    assert found["memory_detail_list"] == []
    assert found["preference_detail_list"] == []
    # Unlike a profile, an event can be read by its id, in its own shape.
    read = fine_api.data_of(fine_api.get(f"/get/memory/{event['id']}"))
    assert read["event_key"] == REVIEW["event_key"]
    assert read["user_id"] == "u1"
    listed = fine_api.ok("/get/memory", {"user_id": "u1", "include_memory_view": ["event"]})
    assert [e["id"] for e in listed["event_detail_list"]] == [event["id"]]
    assert listed["memory_detail_list"] == []
    assert listed["preference_detail_list"] == []
    [row] = sql(
        pg_url,
        "SELECT kind, mode, memory_type, prompt_version, details FROM memories"
        " WHERE task_id = :t AND kind = 'event'",
        t=task["task_id"],
    )
    assert row["kind"] == "event"
    assert row["mode"] == "fine"
    assert row["prompt_version"] == "events-zh-v1"
    assert row["details"]["event_roles"] == ["用户", "李四", "客户"]
    # The default search (no views) shows facts and preferences, not events.
    plain = fine_api.ok("/search/memory", {"user_id": "u1", "query": "方案评审"})
    assert plain["event_detail_list"] == []
    # Another project's key finds nothing of it, by search or by id.
    with Api(fine_service.base_url, new_api_key(pg_url)) as other:
        theirs = other.ok(
            "/search/memory",
            {
                "user_id": "u1",
                "query": "方案评审",
                "include_memory_view": ["event"],
                "relativity": 0,
            },
        )
        assert theirs["event_detail_list"] == []
        other.error_of(other.get(f"/get/memory/{event['id']}"), 404, 40307)


def test_without_the_event_view_no_event_call_is_made(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({"events": events(REVIEW)})

    add(fine_api, "上周二下午和李四一起做了方案评审。")

    assert fake_llm.calls("events") == []
    found = fine_api.ok(
        "/search/memory", {"user_id": "u1", "query": "方案评审", "include_memory_view": ["event"]}
    )
    assert found["event_detail_list"] == []


def test_a_query_for_last_saturday_finds_that_days_event(fine_api: Api, fake_llm: FakeLLM) -> None:
    now = datetime.now(UTC)
    saturday = last_saturday(now).date().isoformat()
    earlier = (last_saturday(now) - timedelta(days=40)).date().isoformat()
    camping = {
        "event_key": "西湖露营",
        "event_value": f"用户于{saturday}（周六）和朋友去西湖露营。",
        "event_time": ["上周六"],
        "event_date": saturday,
        "event_location": ["西湖"],
        "event_roles": ["用户", "朋友"],
    }
    museum = {
        "event_key": "参观博物馆",
        "event_value": f"用户于{earlier}和家人参观了省博物馆。",
        "event_time": ["上个月"],
        "event_date": earlier,
        "event_location": ["省博物馆"],
        "event_roles": ["用户", "家人"],
    }
    fake_llm.script(
        {
            "events": lambda request: events(
                camping if "露营" in request["messages"][0]["content"] else museum
            )
        }
    )
    add(fine_api, "上周六和朋友去西湖露营了。", "c1", allow_memory_view=["event"])
    add(fine_api, "上个月和家人参观了省博物馆。", "c2", allow_memory_view=["event"])

    found = fine_api.ok(
        "/search/memory",
        {"user_id": "u1", "query": "上周六做了什么", "include_memory_view": ["event"]},
    )

    assert found["event_detail_list"][0]["event_key"] == "西湖露营"
    assert found["event_detail_list"][0]["memory_time"].startswith(saturday)
    assert found["event_detail_list"][0]["event_location"] == ["西湖"]


def test_english_events_and_reconciliation_merge_the_event_fields(
    fine_api: Api, fake_llm: FakeLLM, pg_url: str
) -> None:
    first = {
        "event_key": "Proposal review",
        "event_value": "The user reviewed the proposal with Li Si last Tuesday afternoon.",
        "event_time": ["last Tuesday afternoon"],
        "event_roles": ["the user", "Li Si"],
    }
    fake_llm.script({"events": events(first)})
    add(
        fine_api,
        "Last Tuesday afternoon I did a proposal review with Li Si.",
        allow_memory_view=["event"],
    )
    [call] = fake_llm.calls("events")
    assert "# Task: extract event memories" in call["messages"][0]["content"]

    again = {
        **first,
        "event_value": "The user reviewed the proposal with Li Si and the customer last Tuesday.",
        "event_roles": ["the user", "Li Si", "the customer"],
    }
    [old] = sql(pg_url, "SELECT id FROM memories WHERE memory_key = 'Proposal review'")
    fake_llm.script(
        {
            "events": events(again),
            "reconcile": reply_json(
                {
                    "action": "UPDATE",
                    "id": 1,
                    "memory_value": again["event_value"],
                    "memory_key": "Proposal review",
                }
            ),
        }
    )
    add(
        fine_api,
        "The customer joined the proposal review too, it was last Tuesday.",
        "c2",
        allow_memory_view=["event"],
    )

    active = sql(
        pg_url,
        "SELECT id, memory_value, details FROM memories WHERE memory_key = 'Proposal review'"
        " AND status = 'activated'",
    )
    # Related enough to the old event to be shown to the model, which merged them.
    [reconcile] = fake_llm.calls("reconcile")
    assert "reviewed the proposal with Li Si last Tuesday" in reconcile["messages"][0]["content"]
    [row] = active
    assert row["id"] == old["id"]
    assert row["memory_value"] == again["event_value"]
    assert row["details"]["event_roles"] == ["the user", "Li Si", "the customer"]
    assert row["details"]["event_time"] == ["last Tuesday afternoon"]
