"""Time words in a query ("last year", "去年", "上个月") → the period they mean.

Search boosts memories whose time (``memory_time``, which fast mode takes from ``chat_time``, or
else when they were stored) falls in that period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end


def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _month(year: int, month: int) -> datetime:
    year += (month - 1) // 12
    return datetime(year, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def _year(year: int) -> Period:
    return Period(datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))


def _week(now: datetime, back: int) -> Period:
    start = _day(now) - timedelta(days=now.weekday() + 7 * back)
    return Period(start, start + timedelta(days=7))


def _days(now: datetime, back: int) -> Period:
    start = _day(now) - timedelta(days=back)
    return Period(start, start + timedelta(days=1))


def _months(now: datetime, back: int) -> Period:
    return Period(_month(now.year, now.month - back), _month(now.year, now.month - back + 1))


_AGO = re.compile(r"\b(\d+|a|one|two|three)\s+(day|week|month|year)s?\s+ago\b")
_NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3}
_PHRASES: list[tuple[re.Pattern[str], str, int]] = [
    (re.compile(p), unit, back)
    for p, unit, back in [
        (r"前天|day before yesterday", "day", 2),
        (r"昨天|昨日|yesterday", "day", 1),
        (r"今天|今日|\btoday\b", "day", 0),
        (r"上周|上个星期|上星期|上个礼拜|last week", "week", 1),
        (r"这周|本周|这个星期|this week", "week", 0),
        (r"上个月|上月|last month", "month", 1),
        (r"这个月|本月|this month", "month", 0),
        (r"前年|the year before last", "year", 2),
        (r"去年|last year", "year", 1),
        (r"今年|this year", "year", 0),
    ]
]


def period_of(query: str, now: datetime | None = None) -> Period | None:
    """The period a query's time words point at, relative to ``now``; None if there are none."""
    now = now or datetime.now(UTC)
    text = query.lower()
    ago = _AGO.search(text)
    if ago:
        count = _NUMBERS.get(ago.group(1)) or int(ago.group(1))
        return _period(now, ago.group(2), count)
    for pattern, unit, back in _PHRASES:
        if pattern.search(text):
            return _period(now, unit, back)
    return None


def _period(now: datetime, unit: str, back: int) -> Period:
    if unit == "day":
        return _days(now, back)
    if unit == "week":
        return _week(now, back)
    if unit == "month":
        return _months(now, back)
    return _year(now.year - back)
