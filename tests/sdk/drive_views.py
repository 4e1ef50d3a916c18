"""Drive the SDK's memory views against a running memos-server (fine mode: a scripted model):
``allow_memory_view`` on add_message, ``include_memory_view`` on search_memory and get_memory,
event and tool memories in the SDK's response models, an event read by its id, and an unknown
view refused. Prints one JSON line, prefixed ``RESULT:``.
"""

import json
import os

from memos.api.client import MemOSClient

USER = os.environ.get("SDK_USER_ID", "sdk-views-user")

client = MemOSClient(api_key=os.environ["MEMOS_API_KEY"], base_url=os.environ["MEMOS_BASE_URL"])

result = {}
added = client.add_message(
    messages=[
        {
            "role": "user",
            "content": "上周二下午和李四一起做了方案评审，客户希望把交付时间提前到七月底。",
        },
        {"role": "assistant", "content": "收到，需要我帮你整理评审结论吗？"},
    ],
    user_id=USER,
    conversation_id="conv_0624",
    allow_memory_view=["event", "detail_factual", "preference"],
    async_mode=False,
)
result["add"] = {"success": added.success, "status": added.status}
client.add_message(
    messages=[
        {"role": "user", "content": "北京现在天气怎么样？"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location": "北京"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature": "7°C"}'},
    ],
    user_id=USER,
    conversation_id="conv_0625",
    async_mode=False,
)

events = client.search_memory(
    query="最近有什么评审或会议？", user_id=USER, include_memory_view=["event"]
)
result["events"] = [dict(e) for e in events.data.event_detail_list or []]
result["events_facts"] = [dict(m) for m in events.memories]
tools = client.search_memory(query="北京天气", user_id=USER, include_tool_memory=True)
result["tools"] = [dict(t) for t in tools.tool_memories or []]
listed = client.get_memory(user_id=USER, include_memory_view=["event", "tool_memory"])
result["listed_events"] = [dict(e) for e in listed.data.event_detail_list or []]
result["listed_tools"] = [dict(t) for t in listed.data.tool_memory_detail_list or []]
result["listed_facts"] = [dict(m) for m in listed.memories]
if result["events"]:
    result["by_id"] = client.get_memory_by_id(result["events"][0]["id"])
try:
    client.search_memory(query="天气", user_id=USER, include_memory_view=["facts"])
    result["bad_view"] = "accepted"
except Exception as error:  # the SDK raises after its retries
    result["bad_view"] = str(error)

print("RESULT:" + json.dumps(result, ensure_ascii=False))
