"""Which tool result belongs to which call, when an agent reuses its call ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memos_server.services.tool_trajectories import trajectories


@dataclass(frozen=True)
class Said:
    role: str
    text: str = ""
    tool_call_id: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


def call(name: str, city: str, call_id: str = "call_0") -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": f'{{"city": "{city}"}}'},
    }


def test_each_call_keeps_its_own_result_when_ids_repeat() -> None:
    # An agent that numbers its calls afresh each turn: "call_0" twice.
    messages = [
        Said("user", "北京天气怎么样？"),
        Said("assistant", tool_calls=[call("get_weather", "北京")]),
        Said("tool", "北京 7°C 多云", tool_call_id="call_0"),
        Said("assistant", "北京 7°C，多云。"),
        Said("user", "上海呢？"),
        Said("assistant", tool_calls=[call("get_weather", "上海")]),
        Said("tool", "上海 12°C 小雨", tool_call_id="call_0"),
    ]

    found = trajectories(messages)

    assert [(t.request, t.result, t.message_indexes) for t in found] == [
        ("北京天气怎么样？", "北京 7°C 多云", (1, 2)),
        ("上海呢？", "上海 12°C 小雨", (5, 6)),
    ]


def test_a_result_before_any_call_of_its_id_stands_alone() -> None:
    messages = [
        Said("tool", "stale result", tool_call_id="call_0"),
        Said("assistant", tool_calls=[call("get_weather", "Paris")]),
        Said("tool", "Paris 9°C", tool_call_id="call_0"),
    ]

    found = trajectories(messages)

    assert [(t.name, t.result, t.message_indexes) for t in found] == [
        ("get_weather", "Paris 9°C", (1, 2)),
        ("", "stale result", (0,)),
    ]
