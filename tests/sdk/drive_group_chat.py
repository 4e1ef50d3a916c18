"""Drive the official MemOS SDK through a group chat and an agent's memory: ``add_message``
with ``user_id`` a list and messages carrying ``role_id`` / ``role_name`` (the Cloud's group-chat
example), ``get_message`` for each user, ``search_memory`` and ``get_memory`` with ``agent_id``
alone (the SDK sends exactly one of user_id and agent_id). Prints one JSON line, prefixed
``RESULT:``.
"""

import json
import os

from memos.api.client import MemOSClient

client = MemOSClient(api_key=os.environ["MEMOS_API_KEY"], base_url=os.environ["MEMOS_BASE_URL"])

added = client.add_message(
    user_id=["sdk_xiaoming", "sdk_xiaohong"],
    agent_id="sdk_group_agent",
    conversation_id="sdk_group_001",
    messages=[
        {
            "role": "user",
            "role_id": "sdk_xiaoming",
            "role_name": "小明",
            "content": "下周二的方案评审，大家时间合适吗？",
        },
        {
            "role": "user",
            "role_id": "sdk_xiaohong",
            "role_name": "小红",
            "content": "我可以，下午两点怎么样？",
        },
        {
            "role": "assistant",
            "role_id": "sdk_group_agent",
            "content": "已记录，下周二下午两点方案评审。",
        },
    ],
    async_mode=False,
)
result = {"add": {"success": added.success, "task_id": added.task_id, "status": added.status}}
result["messages"] = {
    user: [
        m.model_dump()
        for m in client.get_message(
            user_id=user, conversation_id="sdk_group_001"
        ).data.message_detail_list
    ]
    for user in ("sdk_xiaoming", "sdk_xiaohong")
}
found = client.search_memory(query="方案评审什么时候", agent_id="sdk_group_agent", relativity=0)
result["agent_search"] = [m.model_dump() for m in found.data.memory_detail_list]
mine = client.search_memory(query="方案评审什么时候", user_id="sdk_xiaohong", relativity=0)
result["user_search"] = [m.model_dump() for m in mine.data.memory_detail_list]
listed = client.get_memory(agent_id="sdk_group_agent")
result["agent_total"] = listed.data.total
print("RESULT:" + json.dumps(result, ensure_ascii=False))
