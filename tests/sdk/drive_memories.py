"""Drive the SDK's memory management calls against a running memos-server.

get_memory, get_memory_by_id, update_memory and delete_memory, as a cloud user calls them, with
the SDK's own Python; MEMOS_BASE_URL and MEMOS_API_KEY select the server. A preference for
SDK_USER_ID is stored by the test beforehand. Prints one JSON line, prefixed ``RESULT:``.
"""

import json
import os
import uuid

import requests
from memos.api.client import MemOSClient

USER = os.environ.get("SDK_USER_ID", "sdk-user")

client = MemOSClient(api_key=os.environ["MEMOS_API_KEY"], base_url=os.environ["MEMOS_BASE_URL"])

for conversation in ("0610", "0611"):
    client.add_message(
        messages=[{"role": "user", "content": f"我选七天酒店 ({conversation})"}],
        user_id=USER,
        conversation_id=conversation,
        agent_id="sdk-agent",
        info={"conversation": conversation},
    )


def listing(response):
    return {
        "memories": [dict(m) for m in response.memories],
        "preferences": [dict(p) for p in (response.preferences or [])],
        "total": response.data.total,
        "size": response.data.size,
        "current": response.data.current,
        "pages": response.data.pages,
    }


first = listing(client.get_memory(user_id=USER, page=1, size=1))
second = listing(client.get_memory(user_id=USER, page=2, size=1))
by_agent = listing(client.get_memory(agent_id="sdk-agent"))
filtered = listing(client.get_memory(user_id=USER, filter={"and": [{"conversation": "0611"}]}))

fact_id = first["memories"][0]["id"]
preference_id = first["preferences"][0]["id"]
one = client.get_memory_by_id(fact_id)
updated = client.update_memory(fact_id, content="用户改选了全季酒店。", title="酒店选择")
after_update = client.get_memory_by_id(fact_id)

try:
    client.get_memory_by_id(str(uuid.uuid4()))
    missing = None
except requests.HTTPError as error:
    missing = {"status": error.response.status_code, "body": error.response.json()}

deleted_one = client.delete_memory(memory_ids=[preference_id])
deleted_filtered = client.delete_memory(filter={"and": [{"conversation": "0611"}]})
deleted_user = client.delete_memory(user_ids=[USER])
after_delete = listing(client.get_memory(user_id=USER))

result = {
    "first": first,
    "second": second,
    "by_agent": by_agent,
    "filtered": filtered,
    "one": one,
    "updated": updated,
    "after_update": after_update,
    "missing": missing,
    "deleted": [
        {"code": d.code, "success": d.success}
        for d in (deleted_one, deleted_filtered, deleted_user)
    ],
    "after_delete": after_delete,
}
print("RESULT:" + json.dumps(result, ensure_ascii=False))
