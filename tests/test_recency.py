"""Newer beats older, in fast mode, without an LLM: ``search.recency_lift``.

Each scenario is stored once in one project and asked through two services on the same
database: the shared one (default settings: recency on) and one with the mechanism off, so each
test shows what the mechanism changes and what it leaves alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from memos_server.services.search.recency import Candidate, newer_first
from tests.support.api import Api
from tests.support.service import ServiceThread, make_settings


@pytest.fixture(scope="module")
def no_recency_service(
    pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceThread]:
    settings = make_settings(
        pg_url, tmp_path_factory.mktemp("recency-data"), search={"recency_lift": 0}
    )
    running = ServiceThread(settings)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def both(api: Api, api_key: str, no_recency_service: ServiceThread) -> Iterator[tuple[Api, Api]]:
    """(recency off, recency on: the default) over the same project."""
    with Api(no_recency_service.base_url, api_key) as off:
        yield off, api


def remember(api: Api, dated: list[tuple[str, str]]) -> None:
    """Each (date, text) a conversation of its own, told by the user on that date."""
    for i, (day, text) in enumerate(dated):
        message = {"role": "user", "content": text, "chat_time": f"{day} 20:00:00"}
        api.ok("/add/message", {"user_id": "u1", "conversation_id": f"c{i}", "messages": [message]})


def ranked(api: Api, query: str) -> list[str]:
    data = api.ok("/search/memory", {"user_id": "u1", "query": query, "memory_limit_number": 10})
    return [m["memory_value"].removeprefix("user: ") for m in data["memory_detail_list"]]


OLD_RECORD_ZH = "今天跑了半程马拉松，1小时52分，个人最好成绩！"
NEW_RECORD_ZH = "今天半程又跑了1小时45分，又破纪录了"
OLD_HOME_ZH = "我住在上海浦东，每天坐地铁上班"
NEW_HOME_ZH = "我上个月搬到杭州了，现在住西湖区"
CHATTER_ZH = [
    ("2025-02-03", "今天午饭吃了一碗牛肉面，味道一般"),
    ("2025-03-15", "周末看了一部科幻电影，特效很棒"),
    ("2025-04-20", "最近在学弹吉他，手指有点疼"),
    ("2025-05-08", "公司下周要开年中总结会"),
]


def test_the_newer_record_ranks_above_the_older(both: tuple[Api, Api]) -> None:
    off, on = both
    old, new = OLD_RECORD_ZH, NEW_RECORD_ZH
    remember(off, [("2025-01-10", old), *CHATTER_ZH, ("2025-06-12", new)])
    query = "我长跑最好成绩是多少？帮我写进跑团简介"

    before, after = ranked(off, query), ranked(on, query)
    assert before.index(old) < before.index(new)  # what there is to fix
    assert after.index(new) < after.index(old)
    assert sorted(after) == sorted(before)  # reordered, nothing lost


def test_the_newer_home_ranks_above_the_older(both: tuple[Api, Api]) -> None:
    off, on = both
    remember(off, [("2025-01-10", OLD_HOME_ZH), *CHATTER_ZH, ("2025-06-12", NEW_HOME_ZH)])
    query = "帮我找找我家附近的健身房"
    # multilingual-e5-small already puts the new home first; recency keeps it there.
    for order in (ranked(off, query), ranked(on, query)):
        assert order.index(NEW_HOME_ZH) < order.index(OLD_HOME_ZH)


def test_an_old_fact_nothing_replaced_keeps_its_rank(both: tuple[Api, Api]) -> None:
    off, on = both
    allergy = "我对花生过敏，吃一点就会起疹子"
    remember(
        off,
        [("2024-11-02", allergy), *CHATTER_ZH, ("2025-06-12", "我上个月换了一台新的笔记本电脑")],
    )
    query = "帮我推荐几道菜，注意我的忌口"

    # First either way, the newer memory below it being about something else. (The chatter
    # may reorder: to MiniLM, short Chinese sentences on unrelated subjects look alike.)
    assert ranked(off, query)[0] == allergy
    assert ranked(on, query)[0] == allergy


def test_english_requests_keep_the_fused_order_by_default(both: tuple[Api, Api]) -> None:
    # search.recency_languages is ["zh"]: on LoCoMo, where nothing is updated, moving older
    # siblings down costs recall (BENCHMARKS.md).
    off, on = both
    old, new = "I live in Brooklyn, New York.", "I moved to Austin, Texas last month."
    remember(
        off,
        [
            ("2025-01-10", old),
            ("2025-02-03", "Lunch today was a bowl of ramen."),
            ("2025-03-15", "We watched a science fiction film on Saturday."),
            ("2025-04-20", "I am learning to play the guitar."),
            ("2025-06-12", new),
        ],
    )
    query = "Find a gym near my home"

    assert ranked(on, query) == ranked(off, query)


def test_the_same_text_told_twice_is_no_update(both: tuple[Api, Api]) -> None:
    off, on = both
    home = "我住在上海浦东，每天坐地铁上班"
    remember(off, [("2025-01-10", home), *CHATTER_ZH, ("2025-06-12", home)])
    query = "帮我找找我家附近的健身房"
    assert ranked(on, query) == ranked(off, query)


def _at(days: int, text: str, vector: list[float], relativity: float) -> Candidate:
    return Candidate(relativity, datetime(2025, 1, 1) + timedelta(days=days), text, vector)


def test_only_a_close_sibling_within_the_lift_moves() -> None:
    home = [1.0, 0.0, 0.0, 0.0]
    others = [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    candidates = [
        _at(0, "old home", home, 0.60),
        _at(10, "lunch", others[0], 0.58),
        _at(20, "film", others[1], 0.57),
        _at(90, "new home", [0.99, 0.14, 0.0, 0.0], 0.55),
        _at(30, "guitar", others[2], 0.50),
    ]
    order = newer_first(candidates, 0.1, 1.0, timedelta(days=1))
    # The old home goes below the new one (and takes its score); the rest move up one place.
    assert [i for i, _ in order] == [1, 2, 3, 0, 4]
    assert dict(order)[0] == 0.55
    # Beyond the lift, or said the same day, nothing moves.
    assert [i for i, _ in newer_first(candidates, 0.04, 1.0, timedelta(days=1))] == [0, 1, 2, 3, 4]
    assert [i for i, _ in newer_first(candidates, 0.1, 1.0, timedelta(days=100))] == [0, 1, 2, 3, 4]
    assert [i for i, _ in newer_first(candidates, 0.0, 1.0, timedelta(0))] == [0, 1, 2, 3, 4]
