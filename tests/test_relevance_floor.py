"""Chinese recall with the multilingual default model, and the default relevance floor.

The floor (``services/search/relevance.py``, levels in ``embedding/levels.py``) applies when a
request names no ``relativity``: for multilingual-e5-small, in Chinese, a memory sharing no word
with the request needs a cosine of 0.8375; English requests get no default floor.
"""

from __future__ import annotations

import asyncio

import numpy as np

from memos_server.embedding import TextKind
from memos_server.embedding.local import load_local
from memos_server.settings import MINILM_LOCAL_MODEL, EmbeddingSettings
from memos_server.text.tokens import index_tokens, query_tokens
from tests.support.api import Api
from tests.support.paths import MODEL_CACHE
from tests.test_hybrid_search import remember, values

SEATS = "我一般都坐东航，座位尽量靠窗"
SEATS_QUERY = "帮我网上值机选个位子"
OTHERS = [
    "我下个月去成都出差，住在市中心的酒店",
    "周末看了一部科幻电影，特效很棒",
    "今天午饭吃了一碗牛肉面，味道一般",
    "最近在学弹吉他，手指有点疼",
]
# (request, the memory it needs, memories that share its words but not its meaning)
PARAPHRASES = [
    (
        "我家宠物叫什么名字",
        "我养了一只英短蓝猫，叫团子",
        ["我家住在杭州西湖区", "我的名字叫林晓，双木林"],
    ),
]


def minilm_cosines(query: str, texts: list[str]) -> list[float]:
    async def run() -> list[float]:
        minilm = load_local(EmbeddingSettings(model=MINILM_LOCAL_MODEL), MODEL_CACHE)
        try:
            [vector] = await minilm.embed([query], TextKind.QUERY)
            stored = await minilm.embed([f"user: {t}" for t in texts])
        finally:
            await minilm.aclose()
        return [float(np.dot(vector, v)) for v in stored]

    return asyncio.run(run())


def test_a_chinese_paraphrase_only_the_multilingual_model_finds(api: Api) -> None:
    for i, (query, needed, lookalikes) in enumerate(PARAPHRASES):
        user = f"u{i}"
        remember(api, needed, *lookalikes, *OTHERS, user=user)
        found = api.ok("/search/memory", {"user_id": user, "query": query})
        assert found["memory_detail_list"][0]["memory_value"] == f"user: {needed}", query
        # The English model the service used to default to prefers a look-alike.
        scores = minilm_cosines(query, [needed, *lookalikes])
        assert max(scores[1:]) > scores[0], query


def test_a_request_with_no_word_of_its_memory_finds_it(api: Api) -> None:
    # Not one word in common: only the vector channel can find it.
    assert not set(query_tokens(SEATS_QUERY)) & set(index_tokens(SEATS).split())
    remember(api, SEATS, *OTHERS)
    assert values(api, SEATS_QUERY)[0] == SEATS


def test_an_unrelated_chinese_request_gets_less_by_default(api: Api) -> None:
    remember(api, SEATS, *OTHERS)
    for unrelated in ("养蜜蜂需要办什么手续", "加拿大技术移民需要什么条件"):
        # Asked for everything, it gets everything, best first; by default only what passes
        # the floor (the model sees all short Chinese texts as alike: 0.80-0.85 here).
        everything = values(api, unrelated, relativity=0, memory_limit_number=10)
        assert len(everything) == 5
        assert len(values(api, unrelated, memory_limit_number=10)) < 3, unrelated
    assert values(api, "养蜜蜂需要办什么手续") == []
    # A related request keeps what it needs.
    assert values(api, SEATS_QUERY)[0] == SEATS
    assert values(api, "最近看了什么电影")[0] == OTHERS[1]


def test_english_requests_have_no_default_floor(api: Api) -> None:
    # In English the model's scores of related and unrelated memories overlap: no floor.
    remember(api, "I adopted a puppy last spring.", "My tax return is due in April.")
    assert len(values(api, "How hard is it to learn the saxophone?")) == 2
