"""Drive the official MemOS SDK through the fields it sends that this service gives a meaning:
add_message's ``source``, get_task_status's ``memory_views``, search_memory's
``context_format`` (and ``source``), get_message's ``conversation_limit_number`` and ``source``.

Run with the SDK's own Python (see drive_client.py); prints one JSON line prefixed ``RESULT:``.
"""

import json
import os

from memos.api.client import MemOSClient

USER = os.environ.get("SDK_USER_ID", "sdk-contract-user")

client = MemOSClient(api_key=os.environ["MEMOS_API_KEY"], base_url=os.environ["MEMOS_BASE_URL"])

added = client.add_message(
    messages=[
        {"role": "user", "content": "我下个月去成都出差，想住在春熙路附近"},
        {"role": "assistant", "content": "好的，我帮你留意春熙路附近的酒店。"},
    ],
    user_id=USER,
    conversation_id="chengdu",
    source="wechat",
)
status = client.get_task_status(added.task_id)
results = {}
for context_format in ("memory", "sources", "mixed"):
    found = client.search_memory(
        query="我出差住哪里",
        user_id=USER,
        conversation_id="chengdu",
        relativity=0,
        context_format=context_format,
        source="wechat",
    )
    results[context_format] = {
        "memories": [m.memory_value for m in found.memories],
        "messages": (
            None
            if found.data.message_detail_list is None
            else [dict(m) for m in found.data.message_detail_list]
        ),
    }
history = client.get_message(
    user_id=USER, conversation_id="chengdu", conversation_limit_number=3, source="wechat"
)

result = {
    "task_id": added.task_id,
    "status": {"task_id": status.data.task_id, "status": status.data.status},
    "memory_views": status.data.memory_views,
    "search": results,
    "messages": [dict(m) for m in history.messages],
}
print("RESULT:" + json.dumps(result, ensure_ascii=False, default=str))
