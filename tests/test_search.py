"""search/memory: ranking, per-type limits, thresholds, scoping."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.conversations import ENGLISH_TRIP, SEED_FAMILY_TRIP, SEED_HOTEL
from tests.support.memories import store_preference
from tests.support.service import ServiceThread


def search(api: Api, query: str, **extra: Any) -> Any:
    return api.ok("/search/memory", {"user_id": "u1", "query": query, **extra})


def test_empty_store_gives_empty_lists(api: Api) -> None:
    data = search(api, "国庆去哪玩")

    assert data["memory_detail_list"] == []
    assert data["preference_detail_list"] == []
    assert data["preference_note"] == ""


def test_the_most_relevant_memory_comes_first(api: Api) -> None:
    api.ok("/add/message", {"user_id": "u1", "conversation_id": "0610", "messages": SEED_HOTEL})
    api.ok("/add/message", {"user_id": "u1", "conversation_id": "en", "messages": ENGLISH_TRIP})
    api.ok(
        "/add/message",
        {
            "user_id": "u1",
            "conversation_id": "work",
            "messages": [
                {"role": "user", "content": "My quarterly tax report is due next Friday."},
                {"role": "assistant", "content": "I'll remind you on Thursday."},
            ],
        },
    )

    data = search(api, "我国庆想出去玩，帮我推荐个没住过的酒店品牌")
    assert data["memory_detail_list"][0]["conversation_id"] == "0610"
    data = search(api, "When is my tax report due?")
    assert data["memory_detail_list"][0]["conversation_id"] == "work"
    scores = [m["relativity"] for m in data["memory_detail_list"]]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_per_type_limits_apply_separately(
    api: Api, service: ServiceThread, pg_url: str, api_key: str
) -> None:
    for i in range(4):
        api.ok(
            "/add/message",
            {"user_id": "u1", "conversation_id": f"c{i}", "messages": SEED_FAMILY_TRIP},
        )
    for text in ("prefers budget hotels", "likes window seats", "avoids spicy food"):
        store_preference(service, pg_url, api_key, "u1", text, reasoning="said so twice")

    data = search(api, "hotel", memory_limit_number=3, preference_limit_number=2)
    assert len(data["memory_detail_list"]) == 3
    assert len(data["preference_detail_list"]) == 2
    best = data["preference_detail_list"][0]
    assert best["preference"] == "prefers budget hotels"
    assert best["preference_type"] == "explicit_preference"
    assert best["reasoning"] == "said so twice"

    data = search(api, "hotel", memory_limit_number=1, include_preference=False)
    assert len(data["memory_detail_list"]) == 1
    assert data["preference_detail_list"] == []

    data = search(api, "hotel", memory_limit_number=0, preference_limit_number=25)
    assert data["memory_detail_list"] == []
    assert len(data["preference_detail_list"]) == 3


def test_relativity_threshold_drops_weaker_results(api: Api) -> None:
    api.ok("/add/message", {"user_id": "u1", "conversation_id": "en", "messages": ENGLISH_TRIP})
    api.ok("/add/message", {"user_id": "u1", "conversation_id": "zh", "messages": SEED_HOTEL})
    everything = search(api, "beach holiday with kids", memory_limit_number=25)
    scores = [m["relativity"] for m in everything["memory_detail_list"]]
    cut = (scores[0] + scores[-1]) / 2

    kept = search(api, "beach holiday with kids", memory_limit_number=25, relativity=cut)
    assert [m["relativity"] for m in kept["memory_detail_list"]] == [s for s in scores if s >= cut]


def test_agent_id_narrows_the_search(api: Api) -> None:
    base = {"user_id": "u1", "conversation_id": "c", "messages": SEED_HOTEL}
    api.ok("/add/message", {**base, "agent_id": "travel-bot"})
    api.ok("/add/message", {**base, "agent_id": "other-bot"})

    everyone = search(api, "酒店")
    one_agent = search(api, "酒店", agent_id="travel-bot")
    assert len(one_agent["memory_detail_list"]) * 2 == len(everyone["memory_detail_list"])


def test_users_do_not_see_each_other(api: Api) -> None:
    api.ok("/add/message", {"user_id": "alice", "conversation_id": "c", "messages": SEED_HOTEL})

    assert api.ok("/search/memory", {"user_id": "bob", "query": "酒店"})["memory_detail_list"] == []


def test_limits_above_25_are_refused(api: Api) -> None:
    message = api.fails(
        "/search/memory", {"user_id": "u1", "query": "q", "memory_limit_number": 26}, 400, 40000
    )
    assert "memory_limit_number" in message


# One user who speaks both languages: the facts said in English among Chinese ones.
BILINGUAL = [
    ("c01", "I just started a new job at Siemens as a product manager in Munich."),
    ("c02", "我老板张伟让我下个月负责新项目的预算。"),
    ("c03", "My wife Sarah is a nurse and works night shifts at the hospital."),
    ("c04", "我女儿小美今年上小学一年级了。"),
    ("c05", "I'm allergic to peanuts, so I always check food labels."),
    ("c06", "昨天晚上我吃了一顿火锅，辣得不行。"),
    ("c07", "上周我去了成都出差，顺便看了大熊猫。"),
    ("c10", "我周末喜欢去钓鱼，通常去千岛湖。"),
    ("c11", "Our dog Max is a golden retriever, he's 3 years old."),
    ("c12", "我上个月买了一辆比亚迪汉。"),
]


def test_a_chinese_question_finds_what_was_said_in_english(api: Api) -> None:
    """The model puts any two Chinese texts closer than a Chinese and an English one, so an
    English memory that answers a Chinese question fell below every unrelated Chinese memory
    (and under the Chinese floor). It is scored on the question's scale now."""
    for conversation, text in BILINGUAL:
        messages = [{"role": "user", "content": text}]
        api.ok(
            "/add/message",
            {"user_id": "both", "conversation_id": conversation, "messages": messages},
        )
    for question, expected in (
        ("用户在哪个公司上班", "c01"),
        ("我老婆是做什么工作的", "c03"),
        ("我对什么食物过敏", "c05"),
        ("我家狗叫什么名字", "c11"),
        ("我女儿上几年级", "c04"),  # a Chinese answer still comes first
    ):
        found = api.ok("/search/memory", {"user_id": "both", "query": question})
        first = found["memory_detail_list"][0]
        assert first["conversation_id"] == expected, (question, found["memory_detail_list"])
