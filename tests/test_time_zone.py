"""Time words count the days of the configured time zone (``MEMOS_SEARCH__TIMEZONE``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from memos_server.settings import Settings
from memos_server.text.time_words import period_of
from tests.fake_llm import FakeLLM, reply_json
from tests.support.api import Api
from tests.support.database import fresh_database, new_api_key
from tests.support.service import ServiceThread, make_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 07:30 on 2 December in Shanghai, still 1 December in UTC.
NOW = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)


def bounds(query: str, zone: ZoneInfo | None = None) -> tuple[str, str]:
    period = period_of(query, NOW) if zone is None else period_of(query, NOW, zone)
    assert period is not None
    return period.start.isoformat(), period.end.isoformat()


@pytest.mark.parametrize(
    ("query", "utc", "shanghai"),
    [
        ("我昨天吃了什么", ("2026-11-30", "2026-12-01"), ("2026-11-30T16", "2026-12-01T16")),
        ("what did I do today", ("2026-12-01", "2026-12-02"), ("2026-12-01T16", "2026-12-02T16")),
        ("上周六去哪了", ("2026-11-28", "2026-11-29"), ("2026-11-27T16", "2026-11-28T16")),
        ("去年的旅行", ("2025-01-01", "2026-01-01"), ("2024-12-31T16", "2025-12-31T16")),
        ("2023年5月", ("2023-05-01", "2023-06-01"), ("2023-04-30T16", "2023-05-31T16")),
    ],
)
def test_the_zone_decides_which_day_a_word_names(
    query: str, utc: tuple[str, str], shanghai: tuple[str, str]
) -> None:
    start, end = bounds(query)
    assert (start[:10], end[:10]) == utc
    start, end = bounds(query, SHANGHAI)
    assert (start[:13], end[:13]) == shanghai
    assert start.endswith("+00:00")  # bounds in UTC, as memories' times are


def test_an_unknown_zone_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        Settings(_env_file=None, search={"timezone": "Mars/Olympus"})  # type: ignore[call-arg]
    assert Settings(_env_file=None).search.timezone == "UTC"  # type: ignore[call-arg]


def served_in_shanghai(pg_url: str, data_dir: Path, **settings: Any) -> Iterator[Api]:
    """A service set to Asia/Shanghai on a database of its own, as a client."""
    own_url = fresh_database(pg_url)
    running = ServiceThread(
        make_settings(own_url, data_dir, search={"timezone": "Asia/Shanghai"}, **settings)
    )
    running.start()
    with Api(running.base_url, new_api_key(own_url)) as client:
        yield client
    running.stop()


@pytest.fixture(scope="module")
def in_shanghai(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from served_in_shanghai(pg_url, tmp_path_factory.mktemp("shanghai"))


def yesterday(zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Yesterday in ``zone``, as UTC bounds."""
    midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - timedelta(days=1)).astimezone(UTC), midnight.astimezone(UTC)


def outside(inside: tuple[datetime, datetime], other: tuple[datetime, datetime]) -> datetime:
    """A moment of ``inside`` that ``other`` does not hold (the two are 8 or 16 hours apart)."""
    start, end = inside
    return next(
        moment
        for moment in (start + timedelta(hours=2), end - timedelta(hours=2))
        if not other[0] <= moment < other[1]
    )


def test_yesterday_is_the_users_yesterday(in_shanghai: Api) -> None:
    theirs, utcs = yesterday(SHANGHAI), yesterday(ZoneInfo("UTC"))
    # Tea on Shanghai's yesterday (not UTC's), coffee on UTC's (not Shanghai's).
    said = {"tea": outside(theirs, utcs), "coffee": outside(utcs, theirs)}
    for drink, moment in said.items():
        in_shanghai.ok(
            "/add/message",
            {
                "user_id": "u1",
                "conversation_id": drink,
                "messages": [
                    {
                        "role": "user",
                        "content": f"I had a cup of {drink}.",
                        "chat_time": moment.isoformat(),
                    }
                ],
            },
        )

    found = in_shanghai.ok("/search/memory", {"user_id": "u1", "query": "我昨天喝了什么？"})

    assert found["memory_detail_list"][0]["conversation_id"] == "tea"


def test_the_instruction_tells_the_time_and_dates_in_the_zone(in_shanghai: Api) -> None:
    # 01:00 yesterday in Shanghai: still the day before in UTC.
    said = datetime.now(SHANGHAI).replace(hour=1, minute=0, second=0, microsecond=0)
    said -= timedelta(days=1)
    in_shanghai.ok(
        "/add/message",
        {
            "user_id": "u2",
            "conversation_id": "night",
            "messages": [
                {"role": "user", "content": "我喝了一杯乌龙茶。", "chat_time": said.isoformat()}
            ],
        },
    )
    before = datetime.now(SHANGHAI)
    for context in ("memory", "sources"):
        found = in_shanghai.ok(
            "/search/memory",
            {
                "user_id": "u2",
                "query": "我昨天喝了什么？",
                "return_full_instruction": True,
                "context_format": context,
            },
        )
        after = datetime.now(SHANGHAI)

        told = found["full_instruction"]
        shown = (f"{m:%Y-%m-%d %H:%M} CST (UTC+08:00)" for m in (before, after))
        assert any(now in told for now in shown), told
        assert f"[{said:%Y-%m-%d}]" in told, told
        assert f"[{said.astimezone(UTC):%Y-%m-%d}]" not in told


@pytest.fixture(scope="module")
def fine_in_shanghai(
    pg_url: str, fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    llm = {"base_url": fake_llm.base_url, "api_key": "k", "model": "fake-model"}
    yield from served_in_shanghai(pg_url, tmp_path_factory.mktemp("fine-shanghai"), llm=llm)


def test_the_model_reads_the_users_clock_and_its_dates_are_the_users(
    fine_in_shanghai: Api, fake_llm: FakeLLM
) -> None:
    value = "[user观点]用户计划于2025-06-14（周六）带孩子去动物园。"
    fact = {"memory_key": "周六去动物园", "memory_value": value, "memory_time": "2025-06-14"}
    fake_llm.script({"facts": reply_json({"memories": [fact]})})

    fine_in_shanghai.ok(
        "/add/message",
        {
            "user_id": "u1",
            "conversation_id": "zoo",
            "async_mode": False,
            # Tuesday 07:30 in Shanghai, still Monday in UTC.
            "messages": [
                {
                    "role": "user",
                    "content": "我下周六要带孩子去动物园",
                    "chat_time": "2025-06-10T07:30:00+08:00",
                }
            ],
        },
    )

    prompt = fake_llm.calls("facts")[0]["messages"][0]["content"]
    assert "[2025-06-10 07:30:00 (Tuesday)] user: 我下周六要带孩子去动物园" in prompt
    found = fine_in_shanghai.ok("/search/memory", {"user_id": "u1", "query": "动物园"})
    [memory] = found["memory_detail_list"]
    # Midnight of the 14th in Shanghai, shown in UTC as every time the API gives.
    assert memory["memory_time"] == "2025-06-13 16:00:00"
