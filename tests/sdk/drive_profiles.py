"""Drive the official MemOS SDK's ``bind_profile_template``, ``edit_profile`` and
``delete_profile`` against a running memos-server, and read the profile back through
``get_memory`` and ``search_memory`` (run with the SDK's own Python, MEMOS_BASE_URL,
MEMOS_API_KEY and SDK_TEMPLATE, a template made over HTTP, set). Prints one JSON line, prefixed
``RESULT:``, with what the SDK returned."""

import json
import os

from memos.api.client import MemOSClient

client = MemOSClient(api_key=os.environ["MEMOS_API_KEY"], base_url=os.environ["MEMOS_BASE_URL"])
TEMPLATE = os.environ["SDK_TEMPLATE"]
USER = "sdk-画像用户"


def profiles(response):
    return [dict(item) for item in response.data.profile_detail_list or []]


result = {}
result["bound"] = client.bind_profile_template(
    bind_list=[
        {"user_id": USER, "profile_template_id": TEMPLATE},
        {"agent_id": "sdk-客服助手", "profile_template_id": TEMPLATE},
    ]
)
result["edited"] = client.edit_profile(
    profile_template_id=TEMPLATE,
    user_id=USER,
    metadata={
        "基本信息": {
            "职业": {"value": "产品经理"},
            "所在城市": {"value": "上海", "algorithm_updatable": False},
        },
        "兴趣爱好": {"爱好": {"value": "露营"}},
    },
    remove_fields=["服务偏好.联系时段"],
)
result["removed"] = client.edit_profile(
    profile_template_id=TEMPLATE, user_id=USER, remove_fields=["兴趣爱好"]
)
result["got"] = profiles(client.get_memory(user_id=USER))
result["agent"] = profiles(client.get_memory(agent_id="sdk-客服助手"))
result["searched"] = profiles(
    client.search_memory(
        query="这个用户在哪个城市工作", user_id=USER, include_memory_view=["profile"]
    )
)
try:
    client.edit_profile(profile_template_id=TEMPLATE, metadata={"x": {"value": "y"}})
    result["no_subject"] = "accepted"
except ValueError as error:
    result["no_subject"] = str(error)
try:
    client.delete_profile(profile_template_id="tpl_unknown", user_id=USER)
    result["unknown"] = "accepted"
except Exception as error:  # the SDK raises requests' HTTPError after its retries
    result["unknown"] = str(error)
result["deleted"] = client.delete_profile(profile_template_id=TEMPLATE, user_id=USER)
result["after"] = profiles(client.get_memory(user_id=USER))

print("RESULT:" + json.dumps(result, ensure_ascii=False))
