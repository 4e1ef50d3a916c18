"""Drive the SDK's six knowledge-base methods (MemoryOS 2.0.33) against a running memos-server.

Run with the SDK's own Python; MEMOS_BASE_URL and MEMOS_API_KEY select the server. Prints one
JSON line, prefixed ``RESULT:``, with what the SDK parsed.
"""

import base64
import json
import os
import tempfile
import time

from memos.api.client import MemOSClient

client = MemOSClient(api_key=os.environ["MEMOS_API_KEY"], base_url=os.environ["MEMOS_BASE_URL"])

created = client.create_knowledgebase(
    knowledgebase_name="宠物店", knowledgebase_description="商品与售后"
)
base = created.knowledgebase_id

policy = "# 售后政策\n\n狗粮开封后七天内可以退换，需要保留购物小票。\n".encode()
by_json = client.add_knowledgebase_file_json(
    base, [{"name": "policy.md", "content": base64.b64encode(policy).decode()}]
)
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "food.txt")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("低敏幼犬粮推荐：C（三文鱼味），适合肠胃敏感、吃鸡肉会拉肚子的狗狗。")
    by_form = client.add_knowledgebase_file_form(base, [path])

file_ids = [f["id"] for f in by_json.data + by_form.data]
deadline = time.monotonic() + 90
while True:
    got = client.get_knowledgebase_file(file_ids=file_ids)
    if all(dict(f)["status"] != "running" for f in got.files) or time.monotonic() > deadline:
        break
    time.sleep(0.3)
listed = client.get_knowledgebase_file(knowledgebase_id=base, page=1, page_size=1)
found = client.search_memory(
    query="狗狗吃鸡肉拉肚子，推荐什么狗粮？", user_id="sdk-kb-user", knowledgebase_ids=[base]
)
status = client.get_task_status(by_json.data[0]["task_id"])
deleted_file = client.delete_knowledgebase_file(file_ids=[file_ids[1]])
after_file = client.search_memory(
    query="狗狗吃鸡肉拉肚子，推荐什么狗粮？", user_id="sdk-kb-user", knowledgebase_ids=["all"]
)
deleted_base = client.delete_knowledgebase(base)

result = {
    "base": base,
    "added": by_json.data + by_form.data,
    "files": [dict(f) for f in got.files],
    "listed": {
        "names": [dict(f)["name"] for f in listed.files],
        "total": listed.data.total,
        "page": listed.data.page,
        "page_size": listed.data.page_size,
    },
    "found": [dict(m) for m in found.memories],
    "status": status.data.status,
    "deleted_file": deleted_file.success,
    "after_file": [dict(m) for m in after_file.memories],
    "deleted_base": deleted_base.success,
}
print("RESULT:" + json.dumps(result, ensure_ascii=False))
