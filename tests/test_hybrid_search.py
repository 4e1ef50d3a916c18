"""Hybrid search: the full-text and vector channels each find what the other cannot."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from memos_server.text.tokens import index_tokens, query_tokens
from tests.support.api import Api
from tests.support.database import fresh_database, new_api_key
from tests.support.service import ServiceThread, make_settings


def remember(api: Api, *texts: str, user: str = "u1") -> None:
    for i, text in enumerate(texts):
        api.ok(
            "/add/message",
            {
                "user_id": user,
                "conversation_id": f"c{i}",
                "messages": [{"role": "user", "content": text}],
            },
        )


def values(api: Api, query: str, **extra: Any) -> list[str]:
    data = api.ok("/search/memory", {"user_id": "u1", "query": query, **extra})
    return [m["memory_value"].removeprefix("user: ") for m in data["memory_detail_list"]]


def test_chinese_is_cut_into_words_including_words_inside_longer_ones() -> None:
    assert "共和国" in index_tokens("中华人民共和国成立于1949年").split()
    assert query_tokens("我想去广州旅游") == ["去", "广州", "旅游"]  # 我, 想: stop words
    assert "plan" in index_tokens("She is planning a trip").split()  # stemmed
    assert index_tokens("Caroline's plans") == "carolin plan"


def test_the_text_channel_alone_finds_a_chinese_word_inside_a_longer_phrase(api: Api) -> None:
    remember(api, "我家住在中华人民共和国的首都。", "明天去买菜。", "周末我们打羽毛球。")

    only_text = values(api, "共和国", memory_limit_number=1)
    assert only_text == ["我家住在中华人民共和国的首都。"]


def test_a_rare_exact_word_only_the_text_channel_matches(api: Api) -> None:
    # A made-up product code: an embedding model has no idea what it means.
    remember(
        api,
        "My router is the XR-7719 model from the office.",
        "I fixed the wifi at home yesterday.",
        "The internet connection is slow in the evening.",
        "Networking equipment was delivered to the office.",
    )
    assert values(api, "XR-7719", memory_limit_number=1) == [
        "My router is the XR-7719 model from the office."
    ]


def test_a_paraphrase_only_the_vector_channel_matches(api: Api) -> None:
    remember(
        api,
        "I adopted a puppy last spring.",
        "My tax return is due in April.",
        "We repainted the kitchen walls.",
    )
    # No word in common with the memory: only meaning links "dog" and "puppy".
    assert query_tokens("Do I own a dog?") == ["dog"]
    assert values(api, "Do I own a dog?", memory_limit_number=1) == [
        "I adopted a puppy last spring."
    ]


def test_mixed_language_memories_are_found_from_either_language(api: Api) -> None:
    remember(api, "下个月我要去 Tokyo 出差, staying at the Park Hyatt.", "我喜欢吃火锅。")
    assert values(api, "Park Hyatt", memory_limit_number=1)[0].startswith("下个月我要去 Tokyo")
    assert values(api, "出差住哪里", memory_limit_number=1)[0].startswith("下个月我要去 Tokyo")


def test_relativity_is_a_threshold_between_0_and_1(api: Api) -> None:
    remember(api, "I adopted a puppy last spring.", "My tax return is due in April.")
    everything = api.ok(
        "/search/memory", {"user_id": "u1", "query": "puppy", "memory_limit_number": 25}
    )["memory_detail_list"]
    scores = [m["relativity"] for m in everything]
    assert all(0 <= s <= 1 for s in scores)
    assert scores[0] > scores[-1]
    kept = values(api, "puppy", relativity=scores[0] - 1e-6)
    assert kept == ["I adopted a puppy last spring."]


def test_the_full_text_channel_by_itself(api: Api, api_key: str, pg_url: str) -> None:
    """The lexical query alone (no vectors), straight against Postgres."""
    import asyncio

    from memos_server.services.apikeys import hash_key
    from memos_server.services.search.fusion import bm25
    from memos_server.settings import DatabaseSettings
    from memos_server.storage.database import Database
    from memos_server.storage.repositories.memories import MemoryRepository
    from memos_server.storage.repositories.memory_scopes import Scope
    from tests.support.database import sql

    remember(api, "我家住在中华人民共和国的首都。", "明天去买菜。", "周末我们打羽毛球。")
    [row] = sql(pg_url, "SELECT project_id FROM api_keys WHERE key_hash = :h", h=hash_key(api_key))

    async def search(query: str) -> list[str]:
        database = Database(pg_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                tokens = query_tokens(query)
                repository = MemoryRepository(session)
                hits = await repository.lexical(Scope(row["project_id"], "u1"), "fact", tokens, 10)
                memories = await repository.by_ids([hit.id for hit in hits])
                return [memories[hit.id].memory_value for hit, _, _ in bm25(tokens, hits, 3)]
        finally:
            await database.dispose()

    assert asyncio.run(search("共和国")) == ["user: 我家住在中华人民共和国的首都。"]
    assert asyncio.run(search("羽毛球比赛")) == ["user: 周末我们打羽毛球。"]
    assert asyncio.run(search("完全无关")) == []


@pytest.fixture(scope="module")
def one_each(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A service whose channels propose one candidate each, on a database of its own."""
    own_url = fresh_database(pg_url)
    settings = make_settings(own_url, tmp_path_factory.mktemp("one-each"), search={"candidates": 1})
    running = ServiceThread(settings)
    running.start()
    with Api(running.base_url, new_api_key(own_url)) as client:
        yield client
    running.stop()


@pytest.mark.parametrize(
    ("memories", "query", "exact"),
    [
        (
            (
                "I fixed the wifi router at home yesterday.",
                "The XR-7719 is in the second drawer of my office desk.",
            ),
            "Where did I put the XR-7719?",
            "The XR-7719 is in the second drawer of my office desk.",
        ),
        (
            ("周末我们去爬山了，风景特别好。", "登山杖借给小周了，他下个月还。"),
            "我的登山杖在谁那里",
            "登山杖借给小周了，他下个月还。",
        ),
    ],
)
def test_a_full_text_hit_the_vector_channel_missed_is_scored_on_its_cosine(
    one_each: Api, memories: tuple[str, str], query: str, exact: str
) -> None:
    """Each channel proposes one memory, each a different one: the memory holding the query's
    words, which the vector channel did not propose, is still scored on its cosine (not 0), so it
    comes first; before, its relativity was the text share alone (at most 0.2)."""
    user = f"u-{uuid.uuid4().hex}"
    remember(one_each, *memories, user=user)
    found = one_each.ok(
        "/search/memory",
        {"user_id": user, "query": query, "memory_limit_number": 2, "relativity": 0},
    )["memory_detail_list"]
    assert len(found) == 2  # the channels proposed different memories
    assert found[0]["memory_value"].removeprefix("user: ") == exact
    assert all(m["relativity"] > 0.5 for m in found)


def test_words_that_only_hedge_a_query_are_left_out_of_it() -> None:
    # "likely" would stem to "like" and match every "I'd like"; "like" itself stays a word.
    assert query_tokens("Would Caroline likely pursue writing?") == ["carolin", "pursu", "write"]
    assert query_tokens("Might she probably like it?") == ["like"]
    assert query_tokens("他可能喜欢什么运动") == ["喜欢", "运动"]
    assert query_tokens("What pets wouldn't cause any discomfort?") == ["pet", "caus", "discomfort"]
    # Memories keep them: only queries are trimmed.
    assert index_tokens("她可能会来 likely") == "可能 来 like"


def test_a_word_most_memories_hold_tells_none_apart() -> None:
    from memos_server.services.search.fusion import telling_words

    held = {"carolin": 9, "religi": 1, "church": 2}
    assert telling_words(["carolin", "religi", "church"], held, 10, 0.5) == ["religi", "church"]
    assert telling_words(["carolin"], held, 10, 0.5) == ["carolin"]  # never all left out
    assert telling_words(["carolin", "religi"], held, 10, 1.0) == ["carolin", "religi"]  # off


def test_the_full_text_statement_counts_the_memories_holding_each_word(
    api: Api, api_key: str, pg_url: str
) -> None:
    """``lexical_and_counts(frequencies=True)``: per kind, how many memories in scope hold each
    query word (another user's do not count)."""
    import asyncio

    from memos_server.services.apikeys import hash_key
    from memos_server.settings import DatabaseSettings
    from memos_server.storage.database import Database
    from memos_server.storage.repositories.memory_scopes import Scope
    from memos_server.storage.repositories.memory_search import MemorySearch
    from tests.support.database import sql

    user = f"u-{uuid.uuid4().hex}"
    texts = ("小林：周末去爬山了。", "小林：登山杖借给小周了。", "小林：明天去买菜。")
    remember(api, *texts, user=user)
    remember(api, "小林：登山杖又买了一根。", user=f"other-{user}")
    [row] = sql(pg_url, "SELECT project_id FROM api_keys WHERE key_hash = :h", h=hash_key(api_key))
    tokens = query_tokens("小林的登山杖在哪")

    async def counted() -> tuple[int, dict[str, int], int]:
        database = Database(pg_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                hits, counts = await MemorySearch(session).lexical_and_counts(
                    Scope(row["project_id"], user), {"fact": 10}, tokens, frequencies=True
                )
                return len(hits["fact"]), counts.words["fact"], counts.memories["fact"]
        finally:
            await database.dispose()

    hits, words, memories = asyncio.run(counted())
    assert (hits, memories) == (3, 3)
    held = {t: sum(t in index_tokens(text).split() for text in texts) for t in tokens}
    assert words == held
    assert held["小林"] == 3
    assert 0 < max(n for t, n in held.items() if t != "小林") < 3
