"""Seed conversations the tests add: two in Chinese (MemOS's own examples), one in English."""

from __future__ import annotations

SEED_FAMILY_TRIP = [
    {"role": "user", "content": "我想暑假出去玩,你能帮我推荐下吗?"},
    {"role": "assistant", "content": "好的!是自己出行还是和家人朋友一起呢?"},
    {"role": "user", "content": "肯定要带孩子啊,我们家出门都是全家一起。"},
    {"role": "assistant", "content": "明白了,所以你们是父母带孩子一块儿旅行,对吗?"},
    {"role": "user", "content": "对,带上孩子和老人,一般都是全家行动。"},
    {"role": "assistant", "content": "收到,那我会帮你推荐适合家庭出游的目的地。"},
]

SEED_HOTEL = [
    {"role": "user", "content": "我暑假定好去广州旅游，住宿的话有哪些连锁酒店可选？"},
    {"role": "assistant", "content": "您可以考虑【七天、全季、希尔顿】等等"},
    {"role": "user", "content": "我选七天"},
    {"role": "assistant", "content": "好的，有其他问题再问我。"},
]

ENGLISH_TRIP = [
    {"role": "user", "content": "I'm planning a summer trip with my kids and my parents."},
    {"role": "assistant", "content": "Lovely! Do you prefer beaches or mountains?"},
    {"role": "user", "content": "Beaches, always. My son loves swimming."},
    {"role": "assistant", "content": "Then a family resort by the sea would suit you."},
]
