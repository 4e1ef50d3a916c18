"""The official MemOS SDK (MemoryOS 2.0.33, ``MemOSClient``) works against the service unchanged.

The SDK runs as its own process from its own virtual environment (it pins an older FastAPI and
openai), pointed at the service on a loopback port by MEMOS_BASE_URL and MEMOS_API_KEY only.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.database import sql
from tests.support.memories import store_preference
from tests.support.paths import ROOT
from tests.support.service import ServiceThread


def sdk_python() -> str:
    configured = os.environ.get("MEMOS_SDK_PYTHON") or str(ROOT / ".venv-sdk" / "bin" / "python")
    if not Path(configured).exists():
        pytest.fail(
            f"the MemOS SDK is not installed at {configured}: run `make sdk` (make test does)"
        )
    return configured


def run_sdk(script: Path, base_url: str, api_key: str, **env: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sdk_python(), str(script)],
        env={**os.environ, "MEMOS_BASE_URL": base_url, "MEMOS_API_KEY": api_key, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    [line] = [row for row in completed.stdout.splitlines() if row.startswith("RESULT:")]
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT:"))
    return result


def test_add_search_get_and_status_through_the_sdk(
    service: ServiceThread, pg_url: str, api_key: str
) -> None:
    store_preference(
        service,
        pg_url,
        api_key,
        "sdk-user",
        "用户可能偏好性价比较高的酒店选择。",
        preference_type="implicit_preference",
        reasoning="用户在多个选项中选择了经济型的七天酒店。",
    )

    result = run_sdk(ROOT / "tests" / "sdk" / "drive_client.py", service.base_url, api_key)

    assert result["add"]["success"] is True
    assert result["add"]["status"] == "completed"
    assert result["status"] == [{"task_id": result["add"]["task_id"], "status": "completed"}]
    assert any("我选七天" in m["memory_value"] for m in result["memories"])
    [preference] = result["preferences"]
    assert preference["preference_type"] == "implicit_preference"
    assert preference["reasoning"].startswith("用户在多个选项中")
    assert result["preference_note"].startswith("请在回答中遵循以上用户偏好")
    assert [m["content"] for m in result["messages"]][-1] == "好的，有其他问题再问我。"


def test_get_update_and_delete_memories_through_the_sdk(
    service: ServiceThread, pg_url: str, api_key: str
) -> None:
    store_preference(service, pg_url, api_key, "sdk-user", "用户偏好经济型连锁酒店。")

    result = run_sdk(ROOT / "tests" / "sdk" / "drive_memories.py", service.base_url, api_key)

    first, second = result["first"], result["second"]
    assert (first["total"], first["size"], first["current"], first["pages"]) == (2, 1, 1, 2)
    assert second["current"] == 2
    assert "(0611)" in first["memories"][0]["memory_value"]  # newest first
    assert "(0610)" in second["memories"][0]["memory_value"]
    assert [p["preference"] for p in first["preferences"]] == ["用户偏好经济型连锁酒店。"]
    assert second["preferences"] == []
    assert "relativity" not in first["memories"][0]
    assert first["memories"][0]["info"] == {"conversation": "0611"}
    assert [s["type"] for s in first["memories"][0]["sources"]] == ["chat"]
    assert result["by_agent"]["total"] == 2
    [only] = result["filtered"]["memories"]
    assert only["info"] == {"conversation": "0611"}

    one = result["one"]
    assert (one["code"], one["data"]) == (0, first["memories"][0])
    updated = result["updated"]
    assert updated["code"] == 0
    assert updated["data"]["success"] is True
    after = result["after_update"]["data"]
    assert (after["memory_value"], after["memory_key"]) == ("用户改选了全季酒店。", "酒店选择")
    assert result["missing"]["status"] == 404
    assert result["missing"]["body"]["code"] == 40307

    assert result["deleted"] == [{"code": 0, "success": True}] * 3
    assert result["after_delete"]["total"] == 0
    assert result["after_delete"]["memories"] == result["after_delete"]["preferences"] == []


def test_knowledge_bases_through_the_sdk(service: ServiceThread, api_key: str) -> None:
    """create, add (JSON and multipart form), get (by ids and paged), delete a file, delete the
    base: the six knowledge-base methods, and search_memory with knowledgebase_ids."""
    result = run_sdk(ROOT / "tests" / "sdk" / "drive_knowledge.py", service.base_url, api_key)

    assert len(result["base"]) == 32
    assert [a["name"] for a in result["added"]] == ["policy.md", "food.txt"]
    assert all(a["status"] == "running" for a in result["added"])
    assert [f["status"] for f in result["files"]] == ["completed", "completed"]
    assert [f["type"] for f in result["files"]] == ["md", "txt"]
    assert result["listed"] == {"names": ["policy.md"], "total": 2, "page": 1, "page_size": 1}
    [top, *_] = [m for m in result["found"] if m.get("source") == "knowledgebase"]
    assert top["file_name"] == "food.txt"
    assert "三文鱼" in top["memory_value"]
    assert result["status"] == "completed"
    assert result["deleted_file"] is True
    assert {m["file_name"] for m in result["after_file"]} <= {"policy.md"}
    assert result["deleted_base"] is True


def test_source_status_views_and_context_format_through_the_sdk(
    service: ServiceThread, pg_url: str, api_key: str
) -> None:
    result = run_sdk(ROOT / "tests" / "sdk" / "drive_contract.py", service.base_url, api_key)

    # get/status answers a list; SDK 2.0.33 normalises it into its object, memory_views kept.
    assert result["status"] == {"task_id": result["task_id"], "status": "completed"}
    views = result["memory_views"]
    added = sql(pg_url, "SELECT id::text FROM memories WHERE task_id = :t", t=result["task_id"])
    assert views == {"added": [m["id"] for m in added], "updated": [], "deleted": []}
    assert views["added"]
    # context_format: the items are the same; sources and mixed list the messages said.
    memory, sources, mixed = (result["search"][f] for f in ("memory", "sources", "mixed"))
    assert memory["memories"] == sources["memories"] == mixed["memories"]
    assert memory["messages"] is None
    said = [(m["role"], m["content"], m["source"]) for m in sources["messages"]]
    assert said == [
        ("user", "我下个月去成都出差，想住在春熙路附近", "wechat"),
        ("assistant", "好的，我帮你留意春熙路附近的酒店。", "wechat"),
    ]
    assert mixed["messages"] == sources["messages"]
    assert [m["content"] for m in result["messages"]] == [s[1] for s in said]
