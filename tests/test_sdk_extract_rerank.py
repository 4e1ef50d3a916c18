"""The official MemOS SDK's ``extract_memory`` and ``rerank`` (MemoryOS 2.0.33) work against
the service unchanged, in fast mode and in fine mode (the scripted LLM)."""

from __future__ import annotations

from typing import Any

from tests.fake_llm import FakeLLM, reply_json
from tests.support.database import counts_in_project, new_api_key
from tests.support.paths import ROOT
from tests.support.service import ServiceThread
from tests.test_sdk_contract import run_sdk

DRIVER = ROOT / "tests" / "sdk" / "drive_extract_rerank.py"
TABLES = ("messages", "memories", "tasks")


def counts(pg_url: str, api_key: str) -> dict[str, int]:
    return counts_in_project(pg_url, api_key, TABLES)


def check_rerank(result: dict[str, Any]) -> None:
    reranked = result["reranked"]
    assert reranked["code"] == 0
    assert reranked["data"]["scored_by"] == "embedding"
    [best, *rest] = reranked["data"]["results"]
    assert (best["index"], best["document"]["text"]) == (1, "用户喜欢打羽毛球")
    assert len(rest) == 2
    assert best["relevance_score"] >= rest[0]["relevance_score"]
    [top] = result["top"]["data"]["results"]
    assert top["index"] == 1


def test_extract_and_rerank_through_the_sdk_in_fast_mode(
    service: ServiceThread, pg_url: str, api_key: str
) -> None:
    before = counts(pg_url, api_key)

    result = run_sdk(DRIVER, service.base_url, api_key)

    assert counts(pg_url, api_key) == before
    extracted = result["extracted"]
    assert (extracted["code"], extracted["message"]) == (0, "ok")
    data = extracted["data"]
    assert data["success"] is True
    assert data["mode"] == "fast"
    assert "user: 我选七天" in "\n".join(m["memory_value"] for m in data["memory_detail_list"])
    assert data["preference_detail_list"] == []
    assert result["only_preferences"]["data"]["memory_detail_list"] == []
    check_rerank(result)


def test_extract_through_the_sdk_in_fine_mode(
    fine_service: ServiceThread, fake_llm: FakeLLM, pg_url: str
) -> None:
    fact = {
        "memory_key": "暑假广州旅游住宿",
        "memory_value": "[user观点]用户计划暑假去广州旅游，选择住七天连锁酒店。",
        "memory_type": "UserMemory",
        "tags": ["旅游", "酒店"],
    }
    preference = {
        "preference_type": "explicit_preference",
        "preference": "用户希望回答简洁。",
        "reasoning": "用户明确要求回答不要啰嗦。",
    }
    fake_llm.script(
        {
            "facts": reply_json({"memories": [fact]}),
            "preferences": reply_json({"preferences": [preference]}),
        }
    )
    api_key = new_api_key(pg_url)
    before = counts(pg_url, api_key)

    result = run_sdk(DRIVER, fine_service.base_url, api_key)

    assert counts(pg_url, api_key) == before
    data = result["extracted"]["data"]
    assert data["mode"] == "fine"
    assert data["memory_detail_list"] == [fact]
    assert data["preference_detail_list"] == [preference]
    only = result["only_preferences"]["data"]
    assert only["memory_detail_list"] == []
    assert only["preference_detail_list"] == [preference]
    # Two kinds for the first call, one for the second: no reconciliation, nothing else.
    assert len(fake_llm.calls("facts")) == 1
    assert len(fake_llm.calls("preferences")) == 2
    assert len(fake_llm.calls()) == 3
    check_rerank(result)
