"""The one range every time from outside must lie in, and the one parser of a client's time.

Every time a client sends (``chat_time``, ``feedback_time``, a filter's ``create_time`` and
``update_time``) and every date a model proposes (a fact's ``memory_time``) lies in
``EARLIEST`` .. ``LATEST``, both included: 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z, or
epoch milliseconds 0 to 253,402,300,799,999, whichever way it is written. A time outside is
refused (400, naming the field), never stored. Why these ends:

- Python's ``datetime`` holds years 1 to 9999 only: ``0001-01-01T00:00:00+05:00`` is a year-0
  instant in UTC, which nothing can represent, and asyncpg cannot read it back.
- asyncpg writes ``datetime.min`` and ``datetime.max`` (the first microsecond of year 1, the last
  of 9999) as ``-infinity`` and ``infinity``, and reads those back as naive datetimes: a year-1
  ``chat_time`` broke every later read of its conversation. The last millisecond of 9999 is not
  ``datetime.max``.
- Nothing a chat, a feedback or a memory records happened before the Unix epoch, and epoch
  numbers, the other way of sending a time, start there.

Rows stored before this rule are read back clamped into the range (``storage.types.ClientTime``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)
LATEST_MS = (LATEST - EARLIEST) // timedelta(milliseconds=1)
RANGE = "1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z (epoch ms 0 to 253402300799999)"
OUT_OF_RANGE = f"is out of range: times run from {RANGE}"

# Epoch numbers above this are milliseconds, below it seconds (it is 2286 in seconds, and
# April 1970 in milliseconds).
SECONDS_UP_TO = 10_000_000_000

_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d")


def in_range(moment: datetime) -> bool:
    """Whether a time lies in the range (a naive one is read as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # Aware subtraction never overflows, unlike moving a time near year 1 or 9999 to UTC.
    return timedelta(0) <= moment - EARLIEST <= LATEST - EARLIEST


def parse_time(value: Any, *, numbers: Literal["seconds or ms", "ms"]) -> datetime:
    """A client's time as an aware UTC datetime in the range; ValueError says why not (without
    the field's name, which the caller adds).

    Strings: ``YYYY-MM-DD HH:MM:SS`` (and the shorter forms in ``_FORMATS``) or ISO-8601; naive
    ones are UTC. Numbers: epoch milliseconds, or with ``numbers="seconds or ms"`` epoch seconds
    up to ``SECONDS_UP_TO`` and milliseconds above it.
    """
    if isinstance(value, datetime):
        if not in_range(value):
            raise ValueError(OUT_OF_RANGE)
        return utc(value)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("is not a date-time: send a date-time string or an epoch number")
    if isinstance(value, str):
        return _from_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(OUT_OF_RANGE)
    ms = value if numbers == "ms" or value > SECONDS_UP_TO else value * 1000
    if not 0 <= ms <= LATEST_MS:
        raise ValueError(OUT_OF_RANGE)
    return EARLIEST + timedelta(milliseconds=ms)


def _from_text(value: str) -> datetime:
    text = value.strip()
    parsed: datetime | None = None
    for fmt in _FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
            break
        except ValueError:
            continue
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                "is not a date-time: use 'YYYY-MM-DD HH:MM:SS', ISO-8601 or epoch milliseconds"
            ) from None
    if not in_range(parsed):
        raise ValueError(OUT_OF_RANGE)
    return utc(parsed)


def utc(moment: datetime) -> datetime:
    """Any datetime as an aware UTC one, without raising: naive is UTC; a time whose UTC
    instant lies outside Python's years is held at the nearest end."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        end = datetime.min if moment.year == 1 else datetime.max
        return end.replace(tzinfo=UTC)
