"""The official MemOS SDK (MemoryOS 2.0.33) through a group chat and an agent's memory: the
Cloud's own group-chat example (user_id a list, role_id / role_name on each message) and
search_memory / get_memory with agent_id alone."""

from __future__ import annotations

from tests.support.paths import ROOT
from tests.support.service import ServiceThread
from tests.test_sdk_contract import run_sdk

SCRIPT = ROOT / "tests" / "sdk" / "drive_group_chat.py"


def test_a_group_add_and_an_agent_search_through_the_sdk(
    service: ServiceThread, api_key: str
) -> None:
    result = run_sdk(SCRIPT, service.base_url, api_key)

    assert result["add"]["success"] is True
    assert result["add"]["status"] == "completed"
    for user in ("sdk_xiaoming", "sdk_xiaohong"):
        said = result["messages"][user]
        assert [(m["role_id"], m["role_name"]) for m in said] == [
            ("sdk_xiaoming", "小明"),
            ("sdk_xiaohong", "小红"),
            ("sdk_group_agent", None),
        ]
        assert said[1]["content"] == "我可以，下午两点怎么样？"
    # The conversation's windows, found through the agent alone: each once (stored once for
    # each member), and listed with every member's copy.
    values = [m["memory_value"] for m in result["agent_search"]]
    assert len(values) == 2
    assert "小明: 下周二的方案评审，大家时间合适吗？\n小红: 我可以，下午两点怎么样？" in values
    assert len(result["user_search"]) == 2
    assert result["agent_total"] == 4
