"""Drive the official MemOS SDK's ``add_feedback`` and ``chat`` (plain and streamed) against a
running memos-server, as ``drive_client.py`` does for the rest.

``SDK_CHAT=0``: the service has no LLM; the chat call is expected to fail, and its error is
reported. Prints one JSON line, prefixed ``RESULT:``.
"""

import json
import os
import time

from memos.api.client import MemOSClient

USER = os.environ.get("SDK_USER_ID", "sdk-user")
CHAT = os.environ.get("SDK_CHAT", "1") == "1"

client = MemOSClient(api_key=os.environ["MEMOS_API_KEY"], base_url=os.environ["MEMOS_BASE_URL"])

result = {}
added = client.add_message(
    messages=[
        {"role": "user", "content": "我住在北京，每天坐地铁去公司上班。"},
        {"role": "assistant", "content": "好的，我记住了，你住在北京。"},
    ],
    user_id=USER,
    conversation_id="0610",
    async_mode=False,
)
feedback = client.add_feedback(
    user_id=USER,
    conversation_id="1211",
    feedback_content="我已经不住北京了，上个月搬到了上海。",
    feedback_time="2025-12-11 10:30:00",
)
result["feedback"] = {
    "success": feedback.success,
    "task_id": feedback.task_id,
    "status": feedback.status,
}
deadline = time.monotonic() + 60
while True:
    [status] = client.get_task_status(feedback.task_id).messages
    if status.status != "running" or time.monotonic() > deadline:
        break
    time.sleep(0.2)
result["feedback_status"] = status.status
found = client.search_memory(query="我住在哪里", user_id=USER, conversation_id="1212")
result["memories"] = [dict(m) for m in found.memories]

if CHAT:
    answer = client.chat(user_id=USER, conversation_id="1212", query="我现在住在哪个城市？")
    result["chat"] = {"code": answer.code, "response": answer.response}
    pieces = client.chat(
        user_id=USER, conversation_id="1213", query="我现在住在哪个城市？", stream=True
    )
    result["stream"] = [json.loads(piece) for piece in pieces]
    result["messages"] = [
        dict(m) for m in client.get_message(user_id=USER, conversation_id="1213").messages
    ]
else:
    try:
        client.chat(user_id=USER, conversation_id="1212", query="我现在住在哪个城市？")
        result["chat_error"] = None
    except Exception as error:
        result["chat_error"] = str(error)

print("RESULT:" + json.dumps(result, ensure_ascii=False))
