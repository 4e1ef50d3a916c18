"""Time words in a query ("last year", "去年", "上个月", "上周六", "3 weeks ago", "三天前") and the
dates it names ("on 1 February, 2023", "in May 2023", "2023年5月", "2023-05-01") → the period they
mean; none when it lies outside the range of times (``memos_server.times``).

A named date comes before relative words: "what did I buy last year in March 2024" means March
2024. A year alone counts only after a preposition ("in 2023") or with 年 ("2023年"): a bare
four-digit number is as often a count ("2000 steps") as a year. A day or month without its year
("on 5 May", "5月1日") names no period: which year is meant is a guess.

Search boosts memories whose time (``memory_time``, which fast mode takes from ``chat_time``, or
else when they were stored) falls in that period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from memos_server.times import EARLIEST, LATEST


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


# "3 days ago", "a week ago". Nine digits at most: a longer count is no period at all.
_AGO = re.compile(r"\b(\d{1,9}|a|one|two|three)\s+(day|week|month|year)s?\s+ago\b")
_NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3}
# "3天前", "三个月前", "两周前", "一百万天前", "十年以前". Not 日 (5月1日前: before 1 May), nor
# 月 without 个 (一月前: before January).
_AGO_ZH = re.compile(
    r"(\d{1,9}|[零〇一二两三四五六七八九十百千万亿]{1,12})\s*"
    r"(天|周|个星期|星期|个礼拜|礼拜|个月|年)\s*[以之]?前"
)
_UNITS_ZH = {
    "天": "day",
    "周": "week", "个星期": "week", "星期": "week", "个礼拜": "week", "礼拜": "week",
    "个月": "month",
    "年": "year",
}  # fmt: skip
_DIGITS_ZH = dict(
    zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True)
)
_TENS_ZH = {"十": 10, "百": 100, "千": 1000}
_PHRASES: list[tuple[re.Pattern[str], str, int]] = [
    (re.compile(p), unit, back)
    # The longer words first: "大前天" holds "前天", "上上周" holds "上周".
    for p, unit, back in [
        (r"大前天", "day", 3),
        (r"前天|day before yesterday", "day", 2),
        (r"昨天|昨日|昨晚|昨夜|yesterday|last night", "day", 1),
        (r"今天|今日|\btoday\b", "day", 0),
        (r"上上(?:周|个?星期|个?礼拜)|the week before last", "week", 2),
        (r"上周|上个星期|上星期|上个礼拜|last week", "week", 1),
        (r"这周|本周|这个星期|this week", "week", 0),
        (r"上上个?月|the month before last", "month", 2),
        (r"上个月|上月|last month", "month", 1),
        (r"这个月|本月|this month", "month", 0),
        (r"大前年", "year", 3),
        (r"前年|the year before last", "year", 2),
        (r"去年|last year", "year", 1),
        (r"今年|this year", "year", 0),
    ]
]


# "上周六", "这个星期三", "本礼拜天", "上上周五": one day of a calendar week (Monday first).
_WEEKDAY_ZH = re.compile(r"(上上|上|这|本)个?(?:周|星期|礼拜)([一二三四五六日天])")
_WEEKS_BACK_ZH = {"上上": 14, "上": 7, "这": 0, "本": 0}
_WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
# "last Saturday": the latest Saturday before today.
_WEEKDAY_EN = re.compile(r"\blast (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b")
_WEEKDAYS_EN = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _weekday(now: datetime, text: str) -> Period | None:
    found = _WEEKDAY_ZH.search(text)
    if found:
        monday = _day(now) - timedelta(days=now.weekday() + _WEEKS_BACK_ZH[found.group(1)])
        start = monday + timedelta(days=_WEEKDAYS_ZH[found.group(2)])
        return Period(start, start + timedelta(days=1))
    found_en = _WEEKDAY_EN.search(text)
    if found_en:
        back = (now.weekday() - _WEEKDAYS_EN.index(found_en.group(1))) % 7 or 7
        return _days(now, back)
    return None


# Dates named in full. On LoCoMo, 264 of 1,982 questions name one ("What did Gina find for her
# clothing store on 1 February, 2023?"); boosting the memories of that day or month lifts R@10 by
# 2 points there (docs/search.md).
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
# A day named in full reaches this far either side: what happened on a day is often told days
# later, and a day is often named loosely (LoCoMo R@10 +0.3 against the day alone, on both halves).
DAY_SLACK = timedelta(days=3)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(\d{4})(?!\d)"
# Each pattern's groups, in order, are "y" (year), "m" (month, a number or a name), "d" (day).
_DATES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}\.?,?\s+{_YEAR}"), "dmy"),  # 1 February, 2023
    (re.compile(rf"\b{_MONTH}\.?\s+{_DAY},?\s+{_YEAR}"), "mdy"),  # February 1st, 2023
    (re.compile(r"(?<!\d)(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]"), "ymd"),
    (re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)"), "ymd"),  # 2023-02-01
    (re.compile(rf"\b{_MONTH}\.?,?\s+(?:of\s+)?{_YEAR}"), "my"),  # May 2023
    (re.compile(r"(?<!\d)(\d{4})\s*年\s*(\d{1,2})\s*月(?![以之]?[前后])"), "ym"),
    (re.compile(rf"\b(?:in|of|during|since|from|throughout)\s+{_YEAR}"), "y"),  # in 2023
    (re.compile(r"(?<!\d)(\d{4})\s*年(?![以之]?[前后])"), "y"),  # 2023年
]


def _named_date(text: str) -> Period | None:
    """The day, month or year a lower-cased query names in full, if any."""
    for pattern, order in _DATES:
        found = pattern.search(text)
        if found is None:
            continue
        parts = dict(zip(order, found.groups(), strict=True))
        month = parts.get("m")
        number = None if month is None else int(month) if month.isdigit() else None
        if month is not None and number is None:
            number = 1 + _MONTHS.index(month[:3])
        try:
            year = int(parts["y"])
            if "d" in parts:
                day = datetime(year, number or 1, int(parts["d"]), tzinfo=UTC)
                named, start = day, max(EARLIEST, _before(day, DAY_SLACK))
                end = _day_end(day)
            elif number is not None:
                named = start = _month(year, number)
                end = _month_end(year, number)
            else:
                named = start = datetime(year, 1, 1, tzinfo=UTC)
                end = _month_end(year, 12)
        except (OverflowError, ValueError):  # 30 February, month 13, year 0
            return None
        # A day, month or year inside the range counts, its slack cut to the range (around
        # 1 January 1970, at the end of 9999); one outside it does not.
        if named < EARLIEST or named > LATEST:
            return None
        return Period(start, end)
    return None


# Past the last moment Python holds: the end of a period that reaches the end of 9999.
_END = datetime.max.replace(tzinfo=UTC)


def _before(moment: datetime, slack: timedelta) -> datetime:
    """``moment - slack``, or the first moment Python holds."""
    try:
        return moment - slack
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def _day_end(day: datetime) -> datetime:
    """The end of a named day's period (its slack after it), or ``_END`` past year 9999."""
    try:
        return day + timedelta(days=1) + DAY_SLACK
    except OverflowError:
        return _END


def _month_end(year: int, month: int) -> datetime:
    """The start of the month after, or ``_END`` past year 9999."""
    try:
        return _month(year, month + 1)
    except ValueError:
        return _END


def chinese_number(text: str) -> int:
    """一 → 1, 十五 → 15, 两百 → 200, 一百万 → 1,000,000, 3000 → 3000."""
    if text.isdigit():
        return int(text)
    total = section = digit = 0  # below 亿 / below 万 / the digit waiting for its unit
    for char in text:
        if char in _DIGITS_ZH:
            digit = _DIGITS_ZH[char]
        elif char in _TENS_ZH:
            section += (digit or 1) * _TENS_ZH[char]
            digit = 0
        elif char == "万":
            total += (section + digit or 1) * 10_000
            section = digit = 0
        else:  # 亿
            total = (total + section + digit or 1) * 100_000_000
            section = digit = 0
    return total + section + digit


def period_of(query: str, now: datetime | None = None, zone: tzinfo = UTC) -> Period | None:
    """The period a query's time words point at, relative to ``now``, counted in the days of
    ``zone`` (yesterday in Shanghai starts at 16:00 UTC); None if there are none, or if the
    period they name lies outside the range of times (``memos_server.times``): "3000 years ago"
    names no period a memory can be in. The period's bounds are in UTC."""
    now = now or datetime.now(UTC)
    # The words are read on the zone's wall clock (written as UTC), the bounds moved back.
    wall = _period_of(query, now.astimezone(zone).replace(tzinfo=UTC))
    return None if wall is None else Period(_at(wall.start, zone), _at(wall.end, zone))


def _at(wall: datetime, zone: tzinfo) -> datetime:
    """The UTC moment of a wall-clock time in ``zone``; at the ends of time, the time itself."""
    try:
        return wall.replace(tzinfo=zone).astimezone(UTC)
    except OverflowError:
        return wall


def _period_of(query: str, now: datetime) -> Period | None:
    text = query.lower()
    named = _named_date(text)
    if named is not None:
        return named
    ago = _AGO.search(text)
    if ago:
        count = _NUMBERS.get(ago.group(1)) or int(ago.group(1))
        return _period(now, ago.group(2), count)
    ago_zh = _AGO_ZH.search(text)
    if ago_zh:
        return _period(now, _UNITS_ZH[ago_zh.group(2)], chinese_number(ago_zh.group(1)))
    try:
        day = _weekday(now, text)
    except OverflowError:  # the first days of year 1
        day = None
    if day is not None:
        return day if day.start >= EARLIEST and day.end <= LATEST else None
    for pattern, unit, back in _PHRASES:
        if pattern.search(text):
            return _period(now, unit, back)
    return None


def _period(now: datetime, unit: str, back: int) -> Period | None:
    try:
        if unit == "day":
            period = _days(now, back)
        elif unit == "week":
            period = _week(now, back)
        elif unit == "month":
            period = _months(now, back)
        else:
            period = _year(now.year - back)
    except (OverflowError, ValueError):  # before year 1 or after 9999
        return None
    if period.start < EARLIEST or period.end > LATEST:
        return None
    return period
