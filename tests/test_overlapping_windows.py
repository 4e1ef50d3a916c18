"""Fast mode stores a second tiling of windows, half a window later, for conversations not in
Chinese: two turns either side of a window boundary also stand together in one memory."""

from __future__ import annotations

import uuid

from tests.support.api import Api


def stored_texts(api: Api, user: str, query: str) -> list[str]:
    found = api.ok(
        "/search/memory",
        {"user_id": user, "query": query, "relativity": 0, "memory_limit_number": 25},
    )
    return [m["memory_value"] for m in found["memory_detail_list"]]


def add(api: Api, user: str, lines: list[str]) -> None:
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": text}
        for i, text in enumerate(lines)
    ]
    api.ok("/add/message", {"user_id": user, "conversation_id": "c1", "messages": messages})


ENGLISH = [
    "I started a pottery class last week.",
    "How is it going so far?",
    "Great, the teacher is patient with beginners.",
    "That sounds lovely. What are you making?",
    "A blue vase for my sister's birthday.",
    "She will love it.",
    "I hope so, the glaze is tricky.",
    "Practice makes it easier.",
]

CHINESE = [
    "我上周开始上陶艺课。",
    "上得怎么样？",
    "很好，老师对初学者很有耐心。",
    "听起来不错。你在做什么？",
    "给我妹妹做一个蓝色花瓶当生日礼物。",
    "她一定会喜欢的。",
    "希望如此，上釉有点难。",
    "多练习就容易了。",
]


def test_turns_across_a_window_boundary_share_a_memory(api: Api) -> None:
    user = f"overlap-{uuid.uuid4().hex}"
    add(api, user, ENGLISH)
    texts = stored_texts(api, user, "What is the pottery vase for?")
    # Windows of 4 turns: turns 1-4 and 5-8, and the second tiling's turns 3-6, where the
    # question (turn 4) and its answer (turn 5) stand together. Turns 7-8 lie in one window of
    # the first tiling already and are not stored twice.
    assert len(texts) == 3
    assert sum("What are you making?" in t and "A blue vase" in t for t in texts) == 1
    assert sum("Practice makes it easier." in t for t in texts) == 1


def test_a_chinese_conversation_is_cut_once(api: Api) -> None:
    user = f"overlap-zh-{uuid.uuid4().hex}"
    add(api, user, CHINESE)
    texts = stored_texts(api, user, "陶艺课做的花瓶是给谁的")
    # Windows of 2 turns (one exchange) measured best on the Chinese set; no second tiling.
    assert len(texts) == 4
    assert sum("蓝色花瓶" in t for t in texts) == 1
    assert not any("你在做什么" in t and "蓝色花瓶" in t for t in texts)
