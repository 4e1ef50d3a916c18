"""The official MemOS SDK's profile methods (MemoryOS 2.0.33: ``bind_profile_template``,
``edit_profile``, ``delete_profile``) work against the service unchanged, and the SDK's
``get_memory`` / ``search_memory`` parse the profiles they return."""

from __future__ import annotations

from tests.support.api import Api
from tests.support.paths import ROOT
from tests.support.service import ServiceThread
from tests.test_sdk_contract import run_sdk

DRIVER = ROOT / "tests" / "sdk" / "drive_profiles.py"
TREE = {
    "基本信息": {
        "姓名": {"value": "", "algorithm_updatable": False},
        "职业": {"value": "", "algorithm_updatable": True},
        "所在城市": {"value": "", "algorithm_updatable": True},
    },
    "服务偏好": {"联系时段": {"value": "工作日白天", "algorithm_updatable": True}},
}


def test_bind_edit_and_delete_through_the_sdk(
    service: ServiceThread, api: Api, api_key: str
) -> None:
    template = api.ok("/add/profile_template", {"name": "SDK 画像", "metadata": TREE})[
        "profile_template_id"
    ]

    result = run_sdk(DRIVER, service.base_url, api_key, SDK_TEMPLATE=template)

    ok = {"code": 0, "message": "ok", "data": {"success": True}}
    assert result["bound"] == ok
    assert result["edited"] == ok
    assert result["removed"] == ok
    [profile] = result["got"]
    assert profile["profile_template_id"] == template
    assert profile["properties"] == {
        "基本信息": {
            "姓名": {"value": "", "algorithm_updatable": False},
            "职业": {"value": "产品经理", "algorithm_updatable": True},
            "所在城市": {"value": "上海", "algorithm_updatable": False},
        }
    }
    [agent] = result["agent"]
    assert agent["agent_id"] == "sdk-客服助手"
    assert agent["properties"] == TREE
    assert [f["memory"] for f in result["searched"]] == [
        "基本信息.职业: 产品经理",
        "基本信息.所在城市: 上海",
    ]
    assert all(f["memory_type"] == "ProfileMemory" for f in result["searched"])
    assert result["no_subject"] == "exactly one of user_id or agent_id is required"
    assert "404" in result["unknown"]
    assert result["deleted"] == ok
    assert result["after"] == []
