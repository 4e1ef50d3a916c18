"""Tool and skill memory, and the memory views over them (fast mode: no model needed).

A tool call and its result (an assistant's ``tool_calls`` and the ``role: tool`` message
answering it) are stored verbatim as a tool memory; skills uploaded through add/message
(``is_upload_skill``) as skill memories. Both are searched through the same channels as facts,
listed, read by id in their own shape, deleted by their types, and kept per project.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.support.api import Api
from tests.support.database import new_api_key
from tests.support.service import ServiceThread

WEATHER_ZH = [
    {"role": "user", "content": "北京现在天气怎么样？"},
    {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "call_123",
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "arguments": json.dumps({"location": "北京"}, ensure_ascii=False),
                },
            }
        ],
    },
    {
        "role": "tool",
        "tool_call_id": "call_123",
        "content": [
            {
                "type": "text",
                "text": json.dumps(
                    {"location": "北京", "temperature": "7°C", "condition": "多云"},
                    ensure_ascii=False,
                ),
            }
        ],
    },
    {"role": "assistant", "content": "北京现在 7°C，多云。"},
]

WEATHER_EN = [
    {"role": "user", "content": "What's the weather like in Berlin right now?"},
    {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "call_9",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"location": "Berlin"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_9", "content": '{"temperature": "3°C", "rain": true}'},
    {"role": "tool", "content": "calendar: no events today"},  # answers no call: alone
]

RETURNS_SKILL = """---
name: 客户退货处理
description: 指导客服按标准流程处理用户的退货申请
---

## 流程
1. 核实用户身份与订单号
2. 确认退货原因符合政策
3. 引导用户选择上门取件或自行寄回

## 经验
- 签收 7 天内支持无理由退货
"""

TRIP_SKILL = """---
name: Travel Itinerary Planning
description: Plan multi-day trips with compact routes and weather checks.
---

## Procedure
1. Determine trip duration, destination and preferences
2. Plan daily routes by area to avoid backtracking
3. Check the weather forecast and adjust packing advice
"""


def add(api: Api, messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    body = {"user_id": "u1", "conversation_id": "c1", "messages": messages, **extra}
    data: dict[str, Any] = api.ok("/add/message", body)
    return data


def search(api: Api, query: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = api.ok("/search/memory", {"user_id": "u1", "query": query, **extra})
    return data


def test_a_tool_call_and_its_result_are_one_tool_memory(api: Api) -> None:
    add(api, WEATHER_ZH)
    # get/message gives the conversation back as added: the call, and which call a result answers.
    said = api.ok("/get/message", {"user_id": "u1", "conversation_id": "c1"})
    call, result = said["message_detail_list"][1:3]
    assert (call["tool_calls"], call["tool_call_id"]) == (WEATHER_ZH[1]["tool_calls"], None)
    assert (result["tool_calls"], result["tool_call_id"]) == (None, "call_123")

    found = search(api, "北京适合穿什么衣服", include_tool_memory=True, relativity=0)

    [tool] = found["tool_memory_detail_list"]
    assert tool["tool_type"] == "ToolTrajectoryMemory"
    assert tool["tool_name"] == "get_weather"
    assert tool["tool_call_id"] == "call_123"
    assert tool["tool_value"] == (
        "user: 北京现在天气怎么样？\n"
        'tool_call: get_weather({"location": "北京"})\n'
        'tool_result: {"location": "北京", "temperature": "7°C", "condition": "多云"}'
    )
    assert tool["tool_used_status"][0]["used_tool"] == "get_weather"
    assert [s["message_id"] for s in tool["sources"]] == [2, 3]
    assert 0 <= tool["relativity"] <= 1
    # The facts are there as ever (the fast windows), and tools only when asked for.
    assert found["memory_detail_list"]
    assert search(api, "北京天气", relativity=0)["tool_memory_detail_list"] == []
    # By view: the tool memories alone.
    only = search(api, "北京天气", include_memory_view=["tool_memory"], relativity=0)
    assert [t["id"] for t in only["tool_memory_detail_list"]] == [tool["id"]]
    assert only["memory_detail_list"] == []
    assert only["preference_detail_list"] == []
    # Listed with include_tool_memory (the SDK's default), read by id in its own shape.
    listed = api.ok("/get/memory", {"user_id": "u1", "include_tool_memory": True})
    assert [t["id"] for t in listed["tool_memory_detail_list"]] == [tool["id"]]
    assert api.ok("/get/memory", {"user_id": "u1"})["tool_memory_detail_list"] == []
    read = api.data_of(api.get(f"/get/memory/{tool['id']}"))
    assert read["tool_value"] == tool["tool_value"]
    assert read["user_id"] == "u1"
    # Deleted by its type, the facts stay.
    deleted = api.ok("/delete/memory", {"user_id": "u1", "memory_type": "ToolMemory"})
    assert deleted["deleted_count"] == 1
    after = search(api, "北京天气", include_tool_memory=True, relativity=0)
    assert after["tool_memory_detail_list"] == []
    assert after["memory_detail_list"]


def test_english_trajectories_and_a_result_without_its_call(api: Api) -> None:
    add(api, WEATHER_EN)

    found = search(api, "what should I wear in Berlin", include_tool_memory=True, relativity=0)

    values = sorted(t["tool_value"] for t in found["tool_memory_detail_list"])
    assert values == [
        "tool_result: calendar: no events today",
        "user: What's the weather like in Berlin right now?\n"
        'tool_call: get_weather({"location": "Berlin"})\n'
        'tool_result: {"temperature": "3°C", "rain": true}',
    ]
    deleted = api.ok("/delete/memory", {"user_id": "u1", "memory_type": "ToolTrajectoryMemory"})
    assert deleted["deleted_count"] == 2


def test_allow_memory_view_says_what_an_add_produces(api: Api) -> None:
    add(api, WEATHER_ZH, allow_memory_view=["tool_memory"])
    listed = api.ok("/get/memory", {"user_id": "u1", "include_tool_memory": True})
    assert listed["memory_detail_list"] == []  # no fact windows without detail_factual
    assert len(listed["tool_memory_detail_list"]) == 1

    add(api, WEATHER_ZH, conversation_id="c2", allow_memory_view=["detail_factual"])
    listed = api.ok("/get/memory", {"user_id": "u1", "include_tool_memory": True})
    assert listed["memory_detail_list"]  # the windows of c2
    assert len(listed["tool_memory_detail_list"]) == 1  # none from c2


def test_include_memory_view_limits_the_total_and_ignores_the_older_flags(api: Api) -> None:
    add(api, WEATHER_ZH)
    add(api, [{"role": "user", "content": RETURNS_SKILL}], is_upload_skill=True)

    # The older flags: each list has its own limit.
    apart = search(
        api,
        "北京天气",
        memory_limit_number=1,
        include_tool_memory=True,
        include_skill=True,
        relativity=0,
    )
    assert len(apart["memory_detail_list"]) == 1
    assert len(apart["tool_memory_detail_list"]) == 1
    assert len(apart["skill_detail_list"]) == 1
    # With views: one result in all, the flags ignored (include_preference too).
    together = search(
        api,
        "北京天气",
        memory_limit_number=1,
        include_memory_view=["detail_factual", "tool_memory", "skill"],
        include_tool_memory=False,
        include_skill=False,
        relativity=0,
    )
    lists = ("memory_detail_list", "tool_memory_detail_list", "skill_detail_list")
    assert sum(len(together[name]) for name in lists) == 1
    assert together["preference_detail_list"] == []
    # profile is accepted: the user has no profile bound, so its list is empty (and empty when
    # not asked for).
    assert search(api, "北京天气", include_memory_view=["profile"])["profile_detail_list"] == []
    assert search(api, "北京天气")["profile_detail_list"] == []
    got = api.ok("/get/memory", {"user_id": "u1", "include_memory_view": ["skill", "profile"]})
    assert len(got["skill_detail_list"]) == 1
    assert got["memory_detail_list"] == []
    assert got["profile_detail_list"] == []


def test_unknown_view_names_are_refused(api: Api) -> None:
    message = api.fails(
        "/add/message",
        {
            "user_id": "u1",
            "conversation_id": "c1",
            "messages": WEATHER_ZH,
            "allow_memory_view": ["event", "facts"],
        },
        400,
        40000,
    )
    assert "allow_memory_view[1] 'facts' is not a memory view" in message
    assert "detail_factual" in message
    message = api.fails(
        "/search/memory",
        {"user_id": "u1", "query": "天气", "include_memory_view": ["工具"]},
        400,
        40000,
    )
    assert "include_memory_view[0]" in message
    api.fails("/get/memory", {"user_id": "u1", "include_memory_view": ["tool"]}, 400, 40000)
    # Nothing was stored by the refused add.
    assert api.ok("/get/message", {"user_id": "u1", "conversation_id": "c1"}) == {
        "message_detail_list": []
    }


def test_skills_uploaded_through_add_message(api: Api) -> None:
    encoded = base64.b64encode(TRIP_SKILL.encode()).decode()
    task = add(
        api,
        [
            {"role": "user", "content": RETURNS_SKILL},
            {
                "role": "user",
                "content": [
                    {
                        "type": "file",
                        "file": {
                            "filename": "SKILL.md",
                            "file_data": f"data:text/markdown;base64,{encoded}",
                        },
                    }
                ],
            },
        ],
        is_upload_skill=True,
    )
    assert task["status"] == "completed"

    found = search(api, "用户想退掉三天前买的耳机", include_skill=True, relativity=0)
    skill = found["skill_detail_list"][0]
    assert skill["skill_value"]["name"] == "客户退货处理"
    assert skill["skill_value"]["description"] == "指导客服按标准流程处理用户的退货申请"
    assert "签收 7 天内支持无理由退货" in skill["skill_value"]["content"]
    assert skill["skill_url"] is None
    # An upload makes skills only: no fact windows of the skill files.
    assert found["memory_detail_list"] == []
    english = search(api, "plan a 7-day trip to Yunnan", include_memory_view=["skill"])
    assert english["skill_detail_list"][0]["skill_value"]["name"] == "Travel Itinerary Planning"
    read = api.data_of(api.get(f"/get/memory/{skill['id']}"))
    assert read["skill_value"]["name"] == "客户退货处理"
    deleted = api.ok("/delete/memory", {"user_id": "u1", "memory_type": "SkillMemory"})
    assert deleted["deleted_count"] == 2


def test_a_skill_upload_needs_a_skill_file(api: Api) -> None:
    body: dict[str, Any] = {"user_id": "u1", "conversation_id": "c1", "is_upload_skill": True}
    message = api.fails(
        "/add/message", {**body, "messages": [{"role": "user", "content": "退货流程"}]}, 400, 40000
    )
    assert "name and description" in message
    zipped = {"type": "file", "file": {"file_data": "https://example.com/skill.zip"}}
    api.fails(
        "/add/message", {**body, "messages": [{"role": "user", "content": [zipped]}]}, 400, 40006
    )
    garbled = {"type": "file", "file": {"file_data": "data:text/markdown;base64,@@@"}}
    api.fails(
        "/add/message", {**body, "messages": [{"role": "user", "content": [garbled]}]}, 400, 40000
    )
    nul = base64.b64encode("---\nname: a\ndescription: b\n---\n退货\x00流程".encode()).decode()
    held = {"type": "file", "file": {"file_data": f"data:text/markdown;base64,{nul}"}}
    message = api.fails(
        "/add/message", {**body, "messages": [{"role": "user", "content": [held]}]}, 400, 40000
    )
    assert "messages[0] file_data holds a NUL character" in message


def test_tool_and_skill_memories_stay_in_their_project(
    api: Api, service: ServiceThread, pg_url: str
) -> None:
    add(api, WEATHER_ZH)
    add(api, [{"role": "user", "content": RETURNS_SKILL}], is_upload_skill=True)
    mine = search(api, "北京天气 退货", include_memory_view=["tool_memory", "skill"], relativity=0)
    ids = [m["id"] for m in (*mine["tool_memory_detail_list"], *mine["skill_detail_list"])]
    assert len(ids) == 2

    with Api(service.base_url, new_api_key(pg_url)) as other:
        theirs = other.ok(
            "/search/memory",
            {
                "user_id": "u1",
                "query": "北京天气 退货",
                "include_memory_view": ["tool_memory", "skill"],
                "relativity": 0,
            },
        )
        assert theirs["tool_memory_detail_list"] == []
        assert theirs["skill_detail_list"] == []
        for memory_id in ids:
            other.error_of(other.get(f"/get/memory/{memory_id}"), 404, 40307)
        assert other.ok("/delete/memory", {"memory_ids": ids})["deleted_count"] == 0

    assert api.data_of(api.get(f"/get/memory/{ids[0]}"))["id"] == ids[0]


def test_tool_calls_are_held_to_limits_and_nothing_is_stored_past_them(api: Api) -> None:
    """Each tool call becomes a memory: their number per add is held, and each call's
    arguments to a message's length, its name and id to an id's (docs/operations.md)."""

    def call(number: int, *, name: str = "f", arguments: str = "{}") -> dict[str, Any]:
        return {"id": f"t{number}", "type": "function",
                "function": {"name": name, "arguments": arguments}}  # fmt: skip

    def add(tool_calls: list[dict[str, Any]], **reply: Any) -> Any:
        messages = [
            {"role": "user", "content": "查一下"},
            {"role": "assistant", "tool_calls": tool_calls},
            {"role": "tool", "tool_call_id": "t0", "content": "ok", **reply},
        ]
        return api.post(
            "/add/message",
            {"user_id": "tools-limits", "conversation_id": "c", "messages": messages},
        )

    cases = [
        ([call(i) for i in range(201)], {}, 40013, "201 tool calls; at most 200"),
        ([call(0, arguments="a" * 32_001)], {}, 40013, "tool_calls[0] arguments are longer"),
        ([call(0, name="n" * 101)], {}, 40305, "tool_calls[0] name is longer"),
        ([{**call(0), "id": "i" * 101}], {}, 40305, "tool_calls[0] id is longer"),
        ([call(0)], {"tool_call_id": "i" * 101}, 40305, "messages[2].tool_call_id is longer"),
    ]
    for tool_calls, reply, code, message in cases:
        response = add(tool_calls, **reply)
        assert response.status_code == 413, response.text
        assert response.json()["code"] == code
        assert message in response.json()["message"]
    assert api.ok("/get/memory", {"user_id": "tools-limits"})["total"] == 0
    assert add([call(i) for i in range(200)]).status_code == 200
