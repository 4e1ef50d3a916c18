"""``instruction`` and ``full_instruction``: search results made into prompt text.

``instruction`` is a section a developer puts into their own prompt: the recalled facts and
preferences, most relevant first, and the user's question. ``full_instruction`` is a whole prompt
ready to send to a model: how to use the memories (preferences as constraints, newer over older),
each memory with its date, in the query's language. Both stay within a token budget: the least
relevant memories are left out first. In both, the memories stand one a line inside a
``<memories>`` block, said to be data from past conversations and never instructions; each
memory's text is escaped so that it cannot close the block or start a line of its own
(``prompts/recalled.py``); the lines' format is ``prompts/memory_lines.py``'s. Knowledge-base
passages the search found follow in a ``<documents>`` block of their own, said to be the
project's documents and not things the user said, escaped the same way
(``prompts/passage_lines.py``); they take what the memories leave of the budget.

``context_format`` (search/memory's) chooses what stands for a fact: ``memory`` its text (the
default), ``sources`` the messages it was made from, as they were said (a fact with none left
keeps its text), ``mixed`` its text followed by them. Preferences and passages are the same in
all three.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import StrEnum

from memos_server.embedding.base import estimate_tokens
from memos_server.prompts import Language, load_prompt
from memos_server.prompts.dates import instruction_now
from memos_server.prompts.labels import NO_MEMORIES
from memos_server.prompts.memory_lines import (
    ShownMemory,
    ShownMessage,
    instruction_fact,
    instruction_preference,
    instruction_source,
)
from memos_server.prompts.passage_lines import ShownPassage, documents_block, passage_line
from memos_server.services.search.engine import SearchResult
from memos_server.storage.vocabulary import MemoryKind


class ContextFormat(StrEnum):
    """What stands for a fact in ``instruction`` and ``full_instruction``."""

    MEMORY = "memory"
    SOURCES = "sources"
    MIXED = "mixed"


@dataclass(frozen=True)
class FactContext:
    """How to show facts: the format, and each fact's source messages (by memory id) for
    ``sources`` and ``mixed``."""

    format: ContextFormat = ContextFormat.MEMORY
    sources: Mapping[uuid.UUID, Sequence[ShownMessage]] | None = None
    zone: tzinfo = UTC  # the dates' (MEMOS_SEARCH__TIMEZONE)

    def lines(self, memory: ShownMemory, memory_id: uuid.UUID) -> str:
        said = (self.sources or {}).get(memory_id, ())
        zone = self.zone
        if self.format == ContextFormat.MEMORY or not said:
            return instruction_fact(memory, zone)
        if self.format == ContextFormat.SOURCES:
            return "\n".join(instruction_source(m, zone=zone) for m in said)
        return "\n".join(
            [
                instruction_fact(memory, zone),
                *(instruction_source(m, indent="  ", zone=zone) for m in said),
            ]
        )


MEMORY_CONTEXT = FactContext()


@dataclass(frozen=True)
class _Chosen:
    facts: list[str]
    preferences: list[str]
    passages: list[str]


def _passage_lines(result: SearchResult, language: Language) -> list[str]:
    return [
        passage_line(
            ShownPassage(p.file_name, p.passage.heading, p.passage.page, p.passage.text), language
        )
        for p in result.passages
    ]


def _within_budget(
    result: SearchResult, language: Language, budget: int, fixed: str, context: FactContext
) -> _Chosen:
    """The fact and preference lines that fit in ``budget`` tokens beside ``fixed`` text, taken
    in order of relevance across both lists; then the passages, best first, in what is left
    (with their block's own words, counted once)."""
    candidates = [(s.relativity, MemoryKind.FACT, s) for s in result.facts] + [
        (s.relativity, MemoryKind.PREFERENCE, s) for s in result.preferences
    ]
    used = estimate_tokens(fixed)
    chosen: set[int] = set()
    for _, kind, scored in sorted(candidates, key=lambda c: c[0], reverse=True):
        memory = scored.memory
        line = (
            context.lines(memory, memory.id)
            if kind == MemoryKind.FACT
            else instruction_preference(memory, language, context.zone)
        )
        cost = estimate_tokens(line) + 1
        if used + cost <= budget:
            used += cost
            chosen.add(id(scored))
    facts = [context.lines(s.memory, s.memory.id) for s in result.facts if id(s) in chosen]
    preferences = [
        instruction_preference(s.memory, language, context.zone)
        for s in result.preferences
        if id(s) in chosen
    ]
    passages: list[str] = []
    lines = _passage_lines(result, language)
    if lines:
        used += estimate_tokens(documents_block([""], language))
        for line in lines:
            cost = estimate_tokens(line) + 1
            if used + cost <= budget:
                used += cost
                passages.append(line)
    return _Chosen(facts, preferences, passages)


def _joined(lines: Sequence[str], language: Language) -> str:
    return "\n".join(lines) if lines else NO_MEMORIES[language]


def instruction(
    query: str,
    result: SearchResult,
    language: Language,
    budget: int,
    context: FactContext = MEMORY_CONTEXT,
) -> str:
    prompt = load_prompt("instruction", language)
    fixed = prompt.render(facts="", preferences="", query=query, documents="")
    chosen = _within_budget(result, language, budget, fixed, context)
    return prompt.render(
        facts=_joined(chosen.facts, language),
        preferences=_joined(chosen.preferences, language),
        query=query,
        documents=documents_block(chosen.passages, language),
    ).strip()


def full_instruction(
    query: str,
    result: SearchResult,
    language: Language,
    budget: int,
    now: datetime,
    context: FactContext = MEMORY_CONTEXT,
) -> str:
    prompt = load_prompt("full_instruction", language)
    moment = instruction_now(now)
    fixed = prompt.render(facts="", preferences="", query=query, now=moment, documents="")
    chosen = _within_budget(result, language, budget, fixed, context)
    return prompt.render(
        facts=_joined(chosen.facts, language),
        preferences=_joined(chosen.preferences, language),
        query=query,
        now=moment,
        documents=documents_block(chosen.passages, language),
    ).strip()
