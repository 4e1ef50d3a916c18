"""Times as the prompts write them: every date format a model reads, in one place.

All but two are UTC: a memory's date on an instruction line and full_instruction's "now" are
written as the time carries them (both are UTC where they come from).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def minute(moment: datetime) -> str:
    """A memory's time on a /chat or feedback line, and the feedback's own: ``2025-06-14 10:00``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def day(moment: datetime) -> str:
    """A memory's date on an instruction line: ``2025-06-14``."""
    return moment.strftime("%Y-%m-%d")


def said_at(moment: datetime) -> str:
    """When a turn of a conversation shown for extraction was said, with its weekday (a model
    reads "last Friday" against it): ``2025-06-14 10:00:00 (Saturday)``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S (%A)")


def chat_now(moment: datetime, zone: tzinfo = UTC) -> str:
    """/chat's current time in ``zone`` (``MEMOS_SEARCH__TIMEZONE``), with its name:
    ``2025-06-14 10:00 (Saturday) UTC``, ``2025-06-14 18:00 (Saturday) CST``."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M (%A) %Z").strip()


def instruction_now(moment: datetime) -> str:
    """full_instruction's current time, with its zone's name: ``2025-06-14 10:00 UTC``."""
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()
