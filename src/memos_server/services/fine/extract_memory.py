"""extract/memory: the memories an add would make of some messages, made and stored nowhere.

With an LLM it is fine mode's first step (``extraction``: facts and preferences, the same
prompts), without reconciling against stored memories and without writing anything: the caller
reads what the model makes of a conversation. Without an LLM it is what fast mode would store:
the windows of raw turns (``services/fast_windows``), and no preferences, which only a model
infers. Either way text a runtime injected (recalled memories, reasoning) is left out first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from memos_server.embedding import Embedder
from memos_server.llm import LLM, LLMUnavailable
from memos_server.llm.json_output import MalformedOutput
from memos_server.services.fast_windows import fast_windows
from memos_server.services.fine.extraction import ExtractedFact, ExtractedPreference, extract
from memos_server.services.ingest import FAST_TAG
from memos_server.services.limits import check_messages
from memos_server.settings import Settings
from memos_server.text.injected import strip_injected
from memos_server.text.language import detect_language
from memos_server.text.windows import Turn


class ExtractionType(StrEnum):
    """What a client may ask for (the Cloud's ``extraction_types``)."""

    MEMORY = "memory"
    PREFERENCE = "preference"


class ExtractedBy(StrEnum):
    FINE = "fine"  # the configured LLM, with fine mode's prompts
    FAST = "fast"  # no LLM: fast mode's windows of raw turns


@dataclass(frozen=True)
class Said:
    role: str
    text: str
    chat_time: datetime | None = None
    # Group chat: who said it (role_name, else role_id), as an add labels its lines.
    speaker: str | None = None


@dataclass
class Extracted:
    mode: ExtractedBy
    facts: list[ExtractedFact] = field(default_factory=list)
    preferences: list[ExtractedPreference] = field(default_factory=list)


async def extract_memories(
    settings: Settings,
    embedder: Embedder,
    llm: LLM | None,
    messages: Sequence[Said],
    types: frozenset[ExtractionType],
) -> Extracted:
    """What an add of ``messages`` would make of them, of the kinds in ``types``."""
    check_messages(settings.limits, [m.text for m in messages])
    if llm is None:
        return Extracted(
            ExtractedBy.FAST,
            await asyncio.to_thread(_windows, settings, embedder, messages)
            if ExtractionType.MEMORY in types
            else [],
        )
    turns = [
        Turn(i, m.role, strip_injected(m.text), m.chat_time, m.speaker)
        for i, m in enumerate(messages)
    ]
    spoken = [t.text for t in turns if t.role == "user"] or [t.text for t in turns]
    try:
        extraction = await extract(
            llm,
            turns,
            detect_language(spoken),
            facts=ExtractionType.MEMORY in types,
            preferences=ExtractionType.PREFERENCE in types,
            zone=settings.search.zone(),
        )
    except MalformedOutput as error:
        # A job would retry later; a client waiting on the answer is told the model failed.
        raise LLMUnavailable(f"the language model's answer could not be used: {error}") from error
    if extraction.unusable:
        # Nor is an empty list of a kind the model failed on passed off as "none found".
        kind, why = next(iter(extraction.unusable.items()))
        raise LLMUnavailable(f"the language model's {kind} could not be used: {why}")
    return Extracted(ExtractedBy.FINE, extraction.facts, extraction.preferences)


def _windows(
    settings: Settings, embedder: Embedder, messages: Sequence[Said]
) -> list[ExtractedFact]:
    turns = [(m.role, m.text, m.chat_time) for m in messages]
    windows = fast_windows(settings, embedder, turns, [m.speaker for m in messages])
    # Built, not validated: a window holds turns verbatim, longer than the model is allowed.
    return [
        ExtractedFact.model_construct(
            memory_key=window.key,
            memory_value=window.text,
            memory_type="UserMemory" if window.memory_type == "UserMemory" else "LongTermMemory",
            tags=[FAST_TAG],
        )
        for window in windows
    ]
