"""Fine mode, step one: ask the model for the fact, preference and event memories of a
conversation.

An event is stored as a memory of kind ``event`` (``event_key`` / ``event_value`` are its key and
value); its times as said, places and people are its ``details``; the day it happened, when the
model could tell, is its ``memory_time``, which search's time words match ("上周六做了什么" finds
the event of last Saturday).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from memos_server.llm import LLM, LLMUnavailable
from memos_server.llm.json_output import MalformedOutput, Usage, ask_json, list_under
from memos_server.prompts import Language, load_prompt
from memos_server.prompts.dates import said_at
from memos_server.prompts.labels import VIEWPOINTS
from memos_server.text.windows import SPOKEN_ROLES, Turn
from memos_server.times import in_range

log = logging.getLogger(__name__)

# What one answer may hold: a model that ignores max_tokens (or an endpoint that does) is not
# let to store thousands of memories from one add, each compared with the others.
MAX_ITEMS = 64
MAX_TAG_CHARS = 64
MAX_REASONING_CHARS = 2000


def model_tags(value: Any) -> list[str]:
    """Tags as a model writes them (a list, or one string with commas), at most five, each cut
    to ``MAX_TAG_CHARS``: words and numbers only (not a null, a boolean or a nested value's
    repr), and none of the service's own ``mode:`` tags (``mode:fast`` marks what fast mode
    stored; a model's would mislabel a fine memory)."""
    if isinstance(value, str):
        value = [part for part in value.replace("，", ",").split(",")]
    if not isinstance(value, list):
        return []
    words = (
        str(tag).strip()
        for tag in value
        if isinstance(tag, str | int | float) and not isinstance(tag, bool)
    )
    return [w[:MAX_TAG_CHARS] for w in words if w and not w.lower().startswith("mode:")][:5]


def _confidence(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.8
    if number > 1.0:  # "90" meaning 90 %
        number /= 100
    return min(1.0, max(0.0, number))


class _Extracted(BaseModel):
    """What both kinds share: tags and a confidence, cleaned where the meaning is clear."""

    # White space around a text is the model's, not the memory's: stripped before the length
    # checks, so a key or value of spaces only (ASCII or full-width) is not usable.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    tags: list[str] = Field(default_factory=list)
    confidence: float = 0.8
    # A group chat's: the user it belongs to, by their name (None: the whole group's).
    speaker: str | None = None

    @field_validator("speaker", mode="before")
    @classmethod
    def clean_speaker(cls, value: Any) -> str | None:
        text = str(value).strip() if value is not None else ""
        return text if text and text.lower() not in ("null", "none") else None

    @field_validator("tags", mode="before")
    @classmethod
    def clean_tags(cls, value: Any) -> list[str]:
        return model_tags(value)

    @field_validator("confidence", mode="before")
    @classmethod
    def clean_confidence(cls, value: Any) -> float:
        return _confidence(value)


class ExtractedFact(_Extracted):
    memory_key: str = Field(min_length=1, max_length=200)
    memory_value: str = Field(min_length=1, max_length=4000)
    memory_type: Literal["UserMemory", "LongTermMemory"] = "LongTermMemory"
    memory_time: date | None = None

    @field_validator("memory_type", mode="before")
    @classmethod
    def clean_memory_type(cls, value: Any) -> str:
        text = str(value or "").lower()
        return "UserMemory" if "user" in text or "用户" in text else "LongTermMemory"

    @field_validator("memory_time", mode="before")
    @classmethod
    def clean_memory_time(cls, value: Any) -> Any:
        return _clean_date(value)


def _clean_date(value: Any) -> date | None:
    """The date a model wrote, or None when it wrote none that reads as one ("2025-06",
    "June 2025", 20250614, year 0): the memory keeps its other fields, without the date."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10])  # "2025-06-14 10:00", "…T…" → the date
    except ValueError:
        return None


MAX_EVENT_LIST = 10  # times, places or people of one event
MAX_EVENT_WORD = 200  # characters of one of them


def _words(value: Any) -> list[str]:
    """A list of short strings as a model writes it (a list, one string, or null)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    words = [str(item).strip()[:MAX_EVENT_WORD] for item in value if str(item).strip()]
    return list(dict.fromkeys(words))[:MAX_EVENT_LIST]


class ExtractedEvent(_Extracted):
    event_key: str = Field(
        min_length=1, max_length=200, validation_alias=AliasChoices("event_key", "title")
    )
    event_value: str = Field(
        min_length=1, max_length=4000, validation_alias=AliasChoices("event_value", "content")
    )
    event_time: list[str] = Field(default_factory=list)
    event_date: date | None = None
    event_location: list[str] = Field(default_factory=list)
    event_roles: list[str] = Field(default_factory=list)

    @field_validator("event_time", "event_location", "event_roles", mode="before")
    @classmethod
    def clean_words(cls, value: Any) -> list[str]:
        return _words(value)

    @field_validator("event_date", mode="before")
    @classmethod
    def clean_event_date(cls, value: Any) -> Any:
        return _clean_date(value)

    def details(self) -> dict[str, Any]:
        """The event's fields a memory keeps beside its key and value."""
        return {
            "event_time": self.event_time,
            "event_location": self.event_location,
            "event_roles": self.event_roles,
        }


class ExtractedPreference(_Extracted):
    preference_type: Literal["explicit_preference", "implicit_preference"] = Field(
        validation_alias=AliasChoices("preference_type", "memory_type", "kind")
    )
    preference: str = Field(
        min_length=1, max_length=2000, validation_alias=AliasChoices("preference", "memory_value")
    )
    # Why the model thinks so: shown with the preference, so held to the preference's length.
    reasoning: str = ""

    @field_validator("reasoning", mode="before")
    @classmethod
    def clean_reasoning(cls, value: Any) -> str:
        return value[:MAX_REASONING_CHARS] if isinstance(value, str) else ""

    @field_validator("preference_type", mode="before")
    @classmethod
    def clean_kind(cls, value: Any) -> str:
        text = str(value or "").lower()
        if "implicit" in text or "隐" in text:
            return "implicit_preference"
        if "explicit" in text or "显" in text:
            return "explicit_preference"
        raise ValueError('must be "explicit_preference" or "implicit_preference"')


@dataclass
class Extraction:
    facts: list[ExtractedFact]
    preferences: list[ExtractedPreference]
    fact_prompt: str
    preference_prompt: str
    usage: Usage = field(default_factory=Usage)
    events: list[ExtractedEvent] = field(default_factory=list)
    event_prompt: str = ""
    # The kinds whose answer could not be used even when asked again ("preferences", "events";
    # never "facts", which fail the extraction), with why: the facts are kept.
    unusable: dict[str, str] = field(default_factory=dict)


def render_conversation(turns: Sequence[Turn], zone: tzinfo = UTC) -> str:
    """One turn a line, ``[time] speaker: text`` (the time on ``zone``'s clock); a text's own
    line breaks are indented, so no line a user writes ("[2025-01-01 …] assistant: …") reads as
    a turn of its own."""
    lines = []
    for turn in turns:
        if turn.role not in SPOKEN_ROLES or not turn.text.strip():
            continue
        when = said_at(turn.chat_time, zone) if turn.chat_time else "time unknown"
        text = "\n    ".join(line.rstrip() for line in turn.text.strip().splitlines())
        lines.append(f"[{when}] {turn.label}: {text}")
    return "\n".join(lines)


def _read_facts(value: Any, language: Language) -> list[ExtractedFact]:
    facts = usable_items(ExtractedFact, value, "memories")
    user_prefix, assistant_prefix = VIEWPOINTS[language]
    gap = " " if language == "en" else ""
    for fact in facts:
        text = fact.memory_value.strip()
        # A viewpoint in the other language (an English label on a Chinese conversation)
        # becomes this one's, not a second label.
        for user, assistant in VIEWPOINTS.values():
            if text.startswith(user):
                text = user_prefix + gap + text.removeprefix(user).lstrip()
            elif text.startswith(assistant):
                text = assistant_prefix + gap + text.removeprefix(assistant).lstrip()
        if not (text.startswith(user_prefix) or text.startswith(assistant_prefix)):
            # The cloud's format always names the viewpoint; most facts come from the user.
            text = user_prefix + gap + text
        fact.memory_value = text
    return facts


M = TypeVar("M", bound=BaseModel)


def usable_items(model: type[M], value: Any, key: str) -> list[M]:
    """The answer's items under ``key`` that can be used, at most ``MAX_ITEMS``: one the model
    got wrong (an empty key beside good facts) is left out, not the whole answer; an answer
    none of whose items can be used raises the first item's error (asked again, with it)."""
    kept: list[M] = []
    first: ValidationError | None = None
    for item in list_under(value, key)[:MAX_ITEMS]:
        try:
            kept.append(model.model_validate(item))
        except ValidationError as error:
            first = first or error
    if first is not None and not kept:
        raise first
    return kept


def _read_preferences(value: Any) -> list[ExtractedPreference]:
    return usable_items(ExtractedPreference, value, "preferences")


def _read_events(value: Any) -> list[ExtractedEvent]:
    return usable_items(ExtractedEvent, value, "events")


async def _nothing() -> list[Any]:
    return []


async def extract(
    llm: LLM,
    turns: Sequence[Turn],
    language: Language,
    *,
    facts: bool = True,
    preferences: bool = True,
    events: bool = False,
    group: bool = False,
    zone: tzinfo = UTC,
) -> Extraction:
    """Facts, preferences and (when asked) events of one conversation: one call each, at once
    (each maybe repeated once). A kind not asked for, or a conversation with nothing said in
    it, costs no call. ``group``: a group chat, whose fact and preference prompts ask each
    memory's ``speaker`` (events keep their roles). ``zone``: the clock the turns' times are
    shown on (``MEMOS_SEARCH__TIMEZONE``), so that the dates a model gives are the user's."""
    conversation = render_conversation(turns, zone)
    fact_prompt = load_prompt("group_facts" if group else "facts", language)
    preference_prompt = load_prompt("group_preferences" if group else "preferences", language)
    event_prompt = load_prompt("events", language)
    usage = Usage()
    said = bool(conversation.strip())
    fact_call: Coroutine[Any, Any, list[ExtractedFact]] = (
        ask_json(
            llm,
            fact_prompt.render(conversation=conversation),
            lambda value: _read_facts(value, language),
            usage,
        )
        if facts and said
        else _nothing()
    )
    preference_call: Coroutine[Any, Any, list[ExtractedPreference]] = (
        ask_json(llm, preference_prompt.render(conversation=conversation), _read_preferences, usage)
        if preferences and said
        else _nothing()
    )
    event_call: Coroutine[Any, Any, list[ExtractedEvent]] = (
        ask_json(llm, event_prompt.render(conversation=conversation), _read_events, usage)
        if events and said
        else _nothing()
    )
    # The calls do not depend on each other: ask them at once, and let them all finish.
    asked = {"facts": facts, "preferences": preferences, "events": events}
    answers = await asyncio.gather(fact_call, preference_call, event_call, return_exceptions=True)
    found = dict(zip(asked, answers, strict=True))
    failures = [r for r in answers if isinstance(r, BaseException)]
    unusable = {kind: str(r) for kind, r in found.items() if isinstance(r, MalformedOutput)}
    if (
        len(unusable) < len(failures)
        or "facts" in unusable
        or (unusable and len(unusable) == sum(asked.values()))
    ):
        # An unreachable model is worth retrying later; report that before a bad answer. A bad
        # answer fails the extraction when it is the facts' (the add's fast memories then stay
        # its record) or when no kind asked for has a usable one; a bad preferences or events
        # answer beside usable facts costs only its own kind.
        raise next((f for f in failures if isinstance(f, LLMUnavailable)), failures[0])
    for kind in unusable:
        log.warning("the %s the model answered could not be used; the other kinds are kept", kind)
    # What is left of the failures is the unusable kinds': none of their memories.
    kept = {kind: r if isinstance(r, list) else [] for kind, r in found.items()}
    return Extraction(
        facts=kept["facts"],
        preferences=kept["preferences"],
        fact_prompt=fact_prompt.version,
        preference_prompt=preference_prompt.version,
        usage=usage,
        events=kept["events"],
        event_prompt=event_prompt.version,
        unusable=unusable,
    )


def at_midnight(day: date | None, zone: tzinfo = UTC) -> datetime | None:
    """A fact's date as a time: its midnight in ``zone``, in UTC; a date outside the range every
    time keeps (``times``) is none."""
    if day is None:
        return None
    try:
        moment = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
    except OverflowError:  # the first hours of year 1 in a zone ahead of UTC
        return None
    return moment if in_range(moment) else None
