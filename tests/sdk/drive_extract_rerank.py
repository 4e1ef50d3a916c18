"""Drive the official MemOS SDK's ``extract_memory`` and ``rerank`` against a running
memos-server (run with the SDK's own Python, MEMOS_BASE_URL and MEMOS_API_KEY set). Prints one
JSON line, prefixed ``RESULT:``, with what the SDK returned."""

import json
import os

from memos.api.client import MemOSClient

client = MemOSClient(api_key=os.environ["MEMOS_API_KEY"], base_url=os.environ["MEMOS_BASE_URL"])

extracted = client.extract_memory(
    messages=[
        {"role": "user", "content": "我暑假定好去广州旅游，住宿的话有哪些连锁酒店可选？"},
        {"role": "assistant", "content": "您可以考虑【七天、全季、希尔顿】等等"},
        {"role": "user", "content": "我选七天"},
        {"role": "assistant", "content": "好的，有其他问题再问我。"},
    ],
    extraction_types=["memory", "preference"],
)
only_preferences = client.extract_memory(
    messages=[{"role": "user", "content": "Keep replies short, not too wordy."}],
    extraction_types=["preference"],
    model="memos-extractor-0.6b",
)
reranked = client.rerank(
    model="memos-reranker-0.6b",
    query="用户有什么兴趣爱好",
    documents=["用户在杭州做后端开发", "用户喜欢打羽毛球", "用户下周三要去北京出差"],
)
top = client.rerank(
    query="What sports does the user play?",
    documents=["User lives in Hangzhou", "User loves playing badminton every weekend"],
    top_n=1,
)

result = {
    "extracted": extracted,
    "only_preferences": only_preferences,
    "reranked": reranked,
    "top": top,
}
print("RESULT:" + json.dumps(result, ensure_ascii=False))
