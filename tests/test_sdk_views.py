"""The official SDK's memory views (``allow_memory_view``, ``include_memory_view``) and the
event and tool lists of its response models, against the service in fine mode."""

from __future__ import annotations

from tests.fake_llm import FakeLLM, reply_json
from tests.support.database import new_api_key
from tests.support.paths import ROOT
from tests.support.service import ServiceThread
from tests.test_sdk_contract import run_sdk

SCRIPT = ROOT / "tests" / "sdk" / "drive_views.py"
REVIEW = {
    "event_key": "方案评审与交付调整",
    "event_value": "用户与李四于上周二下午完成方案评审，客户希望将交付时间提前至七月底。",
    "event_time": ["上周二下午", "七月底"],
    "event_location": [],
    "event_roles": ["用户", "李四", "客户"],
}


def test_views_events_and_tool_memories_through_the_sdk(
    fine_service: ServiceThread, pg_url: str, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        {
            "events": reply_json({"events": [REVIEW]}),
            "facts": reply_json({"memories": []}),
            "preferences": reply_json({"preferences": []}),
        }
    )

    result = run_sdk(SCRIPT, fine_service.base_url, new_api_key(pg_url))

    assert result["add"] == {"success": True, "status": "completed"}
    [event] = result["events"]
    assert event["event_key"] == REVIEW["event_key"]
    assert event["event_time"] == ["上周二下午", "七月底"]
    assert event["event_roles"] == ["用户", "李四", "客户"]
    assert event["event_type"] == "EventMemory"
    assert result["events_facts"] == []  # only the event view was asked for
    [tool] = result["tools"]
    assert tool["tool_type"] == "ToolTrajectoryMemory"
    assert 'get_weather({"location": "北京"})' in tool["tool_value"]
    assert [e["id"] for e in result["listed_events"]] == [event["id"]]
    assert [t["id"] for t in result["listed_tools"]] == [tool["id"]]
    assert result["listed_facts"] == []
    assert result["by_id"]["code"] == 0
    assert result["by_id"]["data"]["event_value"] == REVIEW["event_value"]
    assert "400" in result["bad_view"]
