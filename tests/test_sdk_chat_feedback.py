"""The official MemOS SDK's ``add_feedback`` and ``chat`` (plain and ``stream=True``) work against
the service unchanged: fast mode (no LLM) and fine mode (the scripted LLM)."""

from __future__ import annotations

from typing import Any

from tests.fake_llm import FakeLLM, Reply, reply_json
from tests.support.database import new_api_key
from tests.support.paths import ROOT
from tests.support.service import ServiceThread
from tests.test_sdk_contract import run_sdk

SCRIPT = ROOT / "tests" / "sdk" / "drive_chat_feedback.py"
MOVED = "[user观点]用户已于上个月从北京搬到上海居住。"
ANSWER = "你现在住在上海。"


def test_feedback_in_fast_mode_and_chat_without_an_llm(
    service: ServiceThread, api_key: str
) -> None:
    result = run_sdk(SCRIPT, service.base_url, api_key, SDK_CHAT="0")

    assert result["feedback"]["success"] is True
    assert result["feedback"]["status"] == "completed"
    assert result["feedback_status"] == "completed"
    first, second = result["memories"][:2]
    assert first["memory_value"] == "user: 我已经不住北京了，上个月搬到了上海。"
    assert first["tags"] == ["feedback"]
    assert second["memory_value"].startswith("user: 我住在北京")
    # The SDK raises for the 503 after its retries.
    assert "503" in result["chat_error"]


def test_feedback_and_chat_with_an_llm(
    fine_service: ServiceThread, pg_url: str, fake_llm: FakeLLM
) -> None:
    old = "[user观点]用户住在北京，每天坐地铁上班。"
    fake_llm.script(
        {
            "facts": lambda request: (
                reply_json({"memories": [{"memory_key": "居住地", "memory_value": old}]})
                if "我住在北京" in request["messages"][0]["content"]
                else reply_json({"memories": []})
            ),
            "feedback": reply_json(
                {
                    "operations": [
                        {"action": "ARCHIVE", "id": 1},
                        {"action": "ADD", "memory_value": MOVED, "memory_key": "居住地"},
                    ]
                }
            ),
            "chat": Reply(content=ANSWER, chunks=["你现在", "住在上海。"]),
        }
    )

    result = run_sdk(SCRIPT, fine_service.base_url, new_api_key(pg_url))

    assert result["feedback"]["success"] is True
    assert result["feedback"]["status"] in ("running", "completed")
    assert result["feedback_status"] == "completed"
    assert [m["memory_value"] for m in result["memories"]] == [MOVED]
    assert result["chat"] == {"code": 0, "response": ANSWER}
    events: list[dict[str, Any]] = result["stream"]
    assert [e["type"] for e in events] == ["text", "text", "end"]
    assert "".join(e["data"] for e in events[:2]) == ANSWER
    assert events[-1]["data"]["response"] == ANSWER
    assert [m["content"] for m in result["messages"]] == ["我现在住在哪个城市？", ANSWER]
    [chat_call, _] = fake_llm.calls("chat")
    assert MOVED in chat_call["messages"][0]["content"]
