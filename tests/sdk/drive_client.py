"""Drive the official MemOS SDK (``pip install MemoryOS``) against a running memos-server.

Run with the SDK's own Python (it pins its own FastAPI/openai, so it lives in .venv-sdk):
MEMOS_BASE_URL and MEMOS_API_KEY select the server, as they would for a cloud user. Prints one
JSON line, prefixed ``RESULT:``, with what the SDK parsed.
"""

import json
import os

from memos.api.client import MemOSClient

USER = os.environ.get("SDK_USER_ID", "sdk-user")

client = MemOSClient(api_key=os.environ["MEMOS_API_KEY"], base_url=os.environ["MEMOS_BASE_URL"])

added = client.add_message(
    messages=[
        {"role": "user", "content": "我暑假定好去广州旅游，住宿的话有哪些连锁酒店可选？"},
        {"role": "assistant", "content": "您可以考虑【七天、全季、希尔顿】等等"},
        {"role": "user", "content": "我选七天"},
        {"role": "assistant", "content": "好的，有其他问题再问我。"},
    ],
    user_id=USER,
    conversation_id="0610",
)
status = client.get_task_status(added.task_id)
found = client.search_memory(
    query="我国庆想出去玩，帮我推荐个没住过的酒店品牌",
    user_id=USER,
    conversation_id="0928",
    memory_limit_number=6,
    include_preference=True,
    preference_limit_number=6,
)
history = client.get_message(user_id=USER, conversation_id="0610")

result = {
    "add": {"success": added.success, "task_id": added.task_id, "status": added.status},
    "status": [{"task_id": s.task_id, "status": s.status} for s in status.messages],
    "memories": [dict(m) for m in found.memories],
    "preferences": [dict(p) for p in (found.preferences or [])],
    "preference_note": found.data.preference_note,
    "messages": [dict(m) for m in history.messages],
}
print("RESULT:" + json.dumps(result, ensure_ascii=False))
