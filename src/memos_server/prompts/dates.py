"""Times as the prompts write them: every date format a model reads, in one place.

The times a model reads (a search instruction's memory and message dates, /chat's memory times
and its "now", the turns shown for extraction) are written in the time zone
``MEMOS_SEARCH__TIMEZONE`` names (``zone``, UTC unless set): the days a model counts are the
user's, as the days a query's time words name are; feedback's prompt is in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def minute(moment: datetime, zone: tzinfo = UTC) -> str:
    """A memory's time on a /chat or feedback line, and the feedback's own: ``2025-06-14 10:00``."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def day(moment: datetime, zone: tzinfo = UTC) -> str:
    """A memory's date on an instruction line: ``2025-06-14``."""
    return moment.astimezone(zone).strftime("%Y-%m-%d")


def said_at(moment: datetime, zone: tzinfo = UTC) -> str:
    """When a turn of a conversation shown for extraction was said, on ``zone``'s clock, with its
    weekday (a model reads "last Friday" against it): ``2025-06-14 10:00:00 (Saturday)``."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S (%A)")


def chat_now(moment: datetime, zone: tzinfo = UTC) -> str:
    """/chat's current time in ``zone`` (``MEMOS_SEARCH__TIMEZONE``), with its name:
    ``2025-06-14 10:00 (Saturday) UTC``, ``2025-06-14 18:00 (Saturday) CST (UTC+08:00)``."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M (%A)} {zone_name(local)}"


def instruction_now(moment: datetime) -> str:
    """full_instruction's current time, in the zone it carries, with its name:
    ``2025-06-14 10:00 UTC``, ``2025-06-14 18:00 CST (UTC+08:00)``."""
    return f"{moment:%Y-%m-%d %H:%M} {zone_name(moment)}"


def zone_name(moment: datetime) -> str:
    """A zone's abbreviation, and its offset where it is not UTC's (CST is China's and
    America's): ``UTC``, ``CST (UTC+08:00)``."""
    name, offset = f"{moment:%Z}", f"{moment:%z}"
    if offset in ("", "+0000"):
        return name or "UTC"
    return f"{name} (UTC{offset[:3]}:{offset[3:5]})"
