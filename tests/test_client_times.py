"""Every time a client sends lies in one range (``memos_server.times``): 1970-01-01T00:00:00Z to
9999-12-31T23:59:59.999Z, as a string or as an epoch number; outside it, a 400 naming the field.
Whatever time is stored, every reader shows it; time words naming a period outside the range name
no period."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from memos_server.services.fine.extraction import at_midnight
from memos_server.text.time_words import period_of
from memos_server.times import EARLIEST, LATEST, LATEST_MS
from tests.support.api import Api
from tests.support.database import execute, project_of

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)

# What a client sends → how get/message shows it (UTC, to the second).
IN_RANGE: list[tuple[Any, str]] = [
    ("1970-01-01T00:00:00Z", "1970-01-01 00:00:00"),
    ("1970-01-01 00:00:00", "1970-01-01 00:00:00"),
    ("1970-01-01T08:00:00+08:00", "1970-01-01 00:00:00"),  # the epoch, in Beijing
    (0, "1970-01-01 00:00:00"),
    (1_700_000_000, "2023-11-14 22:13:20"),  # epoch seconds
    (1_700_000_000_000, "2023-11-14 22:13:20"),  # epoch milliseconds
    ("9999-12-31T23:59:59.999Z", "9999-12-31 23:59:59"),
    ("9999-12-31 23:59:59", "9999-12-31 23:59:59"),
    ("9999-12-31T23:59:59+00:00", "9999-12-31 23:59:59"),
    (LATEST_MS, "9999-12-31 23:59:59"),
]
OUT_OF_RANGE: list[Any] = [
    "0001-01-01T00:00:00Z",  # stored as -infinity by asyncpg, and read back naive: a 500 before
    "0001-01-01T00:00:00+05:00",  # year 0 in UTC
    "1969-12-31T23:59:59Z",
    "1970-01-01T07:59:59+08:00",
    -1,
    -62_135_596_800_000,  # year 1 in epoch ms
    "9999-12-31T23:59:59.9995Z",
    "9999-12-31T23:59:59-05:00",  # year 10000 in UTC
    LATEST_MS + 1,
    10**30,
    1e300,
]


def add_at(api: Api, conversation: str, when: Any) -> Any:
    return api.post(
        "/add/message",
        {
            "user_id": "timely",
            "conversation_id": conversation,
            "messages": [{"role": "user", "content": "我那天去了广州", "chat_time": when}],
        },
    )


def feedback_at(api: Api, when: Any) -> Any:
    return api.post(
        "/add/feedback",
        {"user_id": "timely", "feedback_content": "我已经搬到上海了", "feedback_time": when},
    )


def test_hardening_02_times_out_of_range_are_refused_naming_the_field(api: Api) -> None:
    for i, (when, shown) in enumerate(IN_RANGE):
        assert add_at(api, f"in-{i}", when).status_code == 200, when
        [message] = api.ok("/get/message", {"user_id": "timely", "conversation_id": f"in-{i}"})[
            "message_detail_list"
        ]
        assert message["create_time"] == shown, when
        assert feedback_at(api, when).status_code == 200, when

    stored = api.ok("/get/memory", {"user_id": "timely", "size": 50})["total"]
    for i, when in enumerate(OUT_OF_RANGE):
        message = api.fails("/add/message", _body(f"out-{i}", when), 400, 40000)
        assert message.startswith("messages[0].chat_time is out of range"), (when, message)
        assert "1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z" in message
        message = api.error_of(feedback_at(api, when), 400, 40000)
        assert message.startswith("feedback_time is out of range"), (when, message)
        message = api.fails(
            "/get/memory",
            {"user_id": "timely", "filter": {"and": [{"create_time": {"gte": when}}]}},
            400,
            40000,
        )
        assert message.startswith("filter: create_time"), (when, message)
        assert "out of range" in message, (when, message)

    # Nothing out of range was stored.
    assert api.ok("/get/memory", {"user_id": "timely", "size": 50})["total"] == stored


def _body(conversation: str, when: Any) -> dict[str, Any]:
    return {
        "user_id": "timely",
        "conversation_id": conversation,
        "messages": [{"role": "user", "content": "我那天去了广州", "chat_time": when}],
    }


def test_hardening_02_a_model_date_out_of_range_is_no_date() -> None:
    assert at_midnight(date(1, 1, 1)) is None
    assert at_midnight(date(1969, 12, 31)) is None
    assert at_midnight(date(1970, 1, 1)) == EARLIEST
    assert at_midnight(date(9999, 12, 31)) == datetime(9999, 12, 31, tzinfo=UTC)
    assert at_midnight(date(9999, 12, 31)) < LATEST


# What rows stored before the range was enforced may hold: a year-1 time asyncpg wrote as
# -infinity, year 1 as such, an instant before year 1 (which asyncpg cannot read), infinity.
STORED = ["-infinity", "0001-01-01 00:00:00+00", "0044-03-15 12:00:00+00 BC", "infinity"]


def test_hardening_02_any_stored_time_is_shown_by_every_reader(
    api: Api, api_key: str, pg_url: str
) -> None:
    user = "旧数据"
    turns = [{"role": "user", "content": f"第{i}次去广州出差，住在七天酒店"} for i in range(4)]
    for conversation in ("c1", "c2"):
        api.ok(
            "/add/message", {"user_id": user, "conversation_id": conversation, "messages": turns}
        )
    api.ok("/add/feedback", {"user_id": user, "feedback_content": "我现在住全季酒店了"})
    project = project_of(pg_url, api_key)
    for i, stored in enumerate(STORED):
        execute(
            pg_url,
            "UPDATE messages SET chat_time = CAST(CAST(:t AS text) AS timestamptz) WHERE id = ("
            " SELECT id FROM messages WHERE project_id = CAST(:p AS uuid) AND user_id = :u"
            " AND conversation_id = 'c1' ORDER BY id OFFSET :i LIMIT 1)",
            t=stored,
            p=project,
            u=user,
            i=i,
        )
    execute(
        pg_url,
        "UPDATE memories SET memory_time = CAST(CAST(:t AS text) AS timestamptz)"
        " WHERE project_id = CAST(:p AS uuid) AND conversation_id = 'c1'",
        t="-infinity",
        p=project,
    )
    execute(
        pg_url,
        "UPDATE memories SET memory_time = CAST(CAST(:t AS text) AS timestamptz)"
        " WHERE project_id = CAST(:p AS uuid) AND conversation_id = 'c2'",
        t="0044-03-15 12:00:00+00 BC",
        p=project,
    )
    execute(
        pg_url,
        "UPDATE memories SET memory_time = 'infinity'"
        " WHERE project_id = CAST(:p AS uuid) AND mode = 'feedback'",
        p=project,
    )
    execute(
        pg_url,
        "UPDATE feedback SET feedback_time = '-infinity' WHERE project_id = CAST(:p AS uuid)",
        p=project,
    )

    # Shown held to the range: the earliest and the latest time there is.
    messages = api.ok("/get/message", {"user_id": user, "conversation_id": "c1"})
    times = sorted(m["create_time"] for m in messages["message_detail_list"])
    assert times == [*["1970-01-01 00:00:00"] * 3, "9999-12-31 23:59:59"]
    for query in ("七天酒店", "去年住在哪里", "我三千年前住在哪里", "what hotel 5 years ago"):
        # relativity 0: whatever the query, every memory comes back to be rendered.
        body = {"user_id": user, "query": query, "return_instruction": True, "relativity": 0}
        found = api.ok("/search/memory", body)
        assert found["memory_detail_list"], query
        assert {m["memory_time"] for m in found["memory_detail_list"]} <= {
            "1970-01-01 00:00:00",
            "9999-12-31 23:59:59",
        }
    listed = api.ok("/get/memory", {"user_id": user, "size": 50})
    assert {m["memory_time"] for m in listed["memory_detail_list"]} == {
        "1970-01-01 00:00:00",
        "9999-12-31 23:59:59",
    }
    for memory in listed["memory_detail_list"]:
        api.ok("/update/memory", {"memory_id": memory["id"], "title": "广州出差"})
        assert api.get(f"/get/memory/{memory['id']}").status_code == 200

    [row] = api.ok("/console/users", {})["users"]
    assert row["user_id"] == user
    conversations = api.ok("/console/conversations", {"user_id": user})["conversations"]
    assert min(c["first_time"] for c in conversations) == 0
    thread = api.ok("/console/messages", {"user_id": user, "conversation_id": "c1"})
    assert sorted(m["time"] for m in thread["messages"]) == [0, 0, 0, LATEST_MS]
    memories = api.ok("/console/memories", {"user_id": user})["memories"]
    assert {m["memory_time"] for m in memories} == {"1970-01-01 00:00:00", "9999-12-31 23:59:59"}
    for memory in memories:
        story = api.ok("/console/history", {"memory_id": memory["id"]})
        assert story["memory"]["memory_time"] == memory["memory_time"]


@pytest.mark.parametrize(
    "query",
    [
        "what did I do 3000 years ago",
        "1000000 days ago",
        "9999999 weeks ago",
        "99999999999999999999 months ago",
        "60 years ago",  # 1966: before any time a memory can have
        "3000年前我在干什么",
        "一百万天前",
        "九百九十九万九千九百九十九周前",
        "一亿个月前",
        "一万亿年以前",
    ],
)
def test_hardening_06_time_words_out_of_range_name_no_period(query: str, api: Api) -> None:
    assert period_of(query, NOW) is None
    api.ok("/add/message", _body("words", "2025-06-01 10:00:00"))
    # No period, no error: the search answers (relativity 0: whatever the query's words).
    found = api.ok("/search/memory", {"user_id": "timely", "query": query, "relativity": 0})
    assert found["memory_detail_list"]


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("三天前说了什么", "2026-11-18", "2026-11-19"),
        ("两周前的会议", "2026-11-02", "2026-11-09"),
        ("三个月前买的", "2026-08-01", "2026-09-01"),
        ("十年以前", "2016-01-01", "2017-01-01"),
        ("5年前去过哪里", "2021-01-01", "2022-01-01"),
        ("50 years ago", "1976-01-01", "1977-01-01"),
    ],
)
def test_ago_in_chinese_and_far_back_names_a_period(query: str, start: str, end: str) -> None:
    period = period_of(query, NOW)
    assert period is not None
    assert (period.start.date().isoformat(), period.end.date().isoformat()) == (start, end)


def test_dates_are_not_ago_words() -> None:
    assert period_of("5月1日前要交报告", NOW) is None  # before 1 May, not a day ago
    assert period_of("一月前的计划", NOW) is None  # before January


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("1970年1月1日发生了什么", "1970-01-01", "1970-01-05"),  # the slack before it cut off
        ("9999年12月31日的计划", "9999-12-28", "9999-12-31"),  # ends with the last moment held
        ("what happens on December 31st, 9999", "9999-12-28", "9999-12-31"),
        ("9999年12月", "9999-12-01", "9999-12-31"),
        ("rockets in 9999", "9999-01-01", "9999-12-31"),
    ],
)
def test_dates_at_the_ends_of_the_range_name_a_period_cut_to_it(
    query: str, start: str, end: str
) -> None:
    period = period_of(query, NOW)
    assert period is not None
    assert (period.start.date().isoformat(), period.end.date().isoformat()) == (start, end)
    assert period_of("1969年12月31日", NOW) is None  # outside the range: no period
