"""How a memory stands on a line of a prompt: one function per prompt that shows memories.

- add/feedback (``feedback.<lang>.md``): numbered, so the model can only name a memory it was
  shown, with its kind and last change: ``1. [fact] (2025-06-14 10:00) ...``;
- /chat's system prompt (``chat.<lang>.md``): ``- (2025-06-14 10:00) ...`` for a fact (a
  feedback memory with its key first), ``- (2025-06-14 10:00, explicit) ...`` for a preference;
- instruction and full_instruction: ``- [2025-06-14] ...`` for a fact,
  ``- [implicit, 2025-06-14] ... (inferred from: ...)`` for a preference; with search's
  ``context_format`` ``sources``, a fact's source messages instead, ``- [2025-06-14] user: ...``
  each, and with ``mixed`` the fact followed by them, indented (``  - [...] user: ...``).

On /chat's and instruction's lines each memory's text is escaped (``recalled.py``): those are
inside a ``<memories>`` block. An empty list is ``NO_MEMORIES``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Protocol

from memos_server.prompts import Language
from memos_server.prompts.dates import day, minute
from memos_server.prompts.labels import BECAUSE, KIND_NAMES, NO_MEMORIES, PREFERENCE_LABELS
from memos_server.prompts.recalled import recalled_text
from memos_server.storage.vocabulary import MemoryMode, PreferenceType


class ShownMemory(Protocol):
    """What a line shows of a memory (a ``storage.models.Memory``)."""

    @property
    def kind(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def memory_key(self) -> str: ...
    @property
    def memory_value(self) -> str: ...
    @property
    def preference_type(self) -> str | None: ...
    @property
    def reasoning(self) -> str | None: ...
    @property
    def memory_time(self) -> datetime | None: ...
    @property
    def create_time(self) -> datetime: ...
    @property
    def update_time(self) -> datetime: ...


class ShownMessage(Protocol):
    """What a line shows of a message a memory was made from (a ``storage.models.Message``)."""

    @property
    def role(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def chat_time(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...


def render_memories(memories: Sequence[ShownMemory], language: Language) -> str:
    """The memories shown to the model with a user's feedback, numbered from 1."""
    if not memories:
        return NO_MEMORIES[language]
    kinds = KIND_NAMES[language]
    return "\n".join(
        f"{i}. [{kinds.get(m.kind, m.kind)}] ({minute(m.update_time)}) {m.memory_value}"
        for i, m in enumerate(memories, start=1)
    )


def chat_facts(facts: Sequence[ShownMemory], language: Language, zone: tzinfo = UTC) -> str:
    """One line per fact, with when it happened (or was last recorded), in ``zone``."""
    if not facts:
        return NO_MEMORIES[language]
    lines = []
    for memory in facts:
        when = minute(memory.memory_time or memory.update_time, zone)
        key = recalled_text(memory.memory_key)
        label = f"{key}: " if memory.mode == MemoryMode.FEEDBACK else ""
        lines.append(f"- ({when}) {label}{recalled_text(memory.memory_value)}")
    return "\n".join(lines)


def chat_preferences(
    preferences: Sequence[ShownMemory], language: Language, zone: tzinfo = UTC
) -> str:
    if not preferences:
        return NO_MEMORIES[language]
    kinds = PREFERENCE_LABELS[language]
    lines = []
    for memory in preferences:
        kind = kinds.get(memory.preference_type or "", kinds[PreferenceType.EXPLICIT])
        value = recalled_text(memory.memory_value)
        lines.append(f"- ({minute(memory.update_time, zone)}, {kind}) {value}")
    return "\n".join(lines)


def instruction_fact(memory: ShownMemory, zone: tzinfo = UTC) -> str:
    when = day(memory.memory_time or memory.create_time, zone)
    return f"- [{when}] {recalled_text(memory.memory_value)}"


def instruction_source(message: ShownMessage, *, indent: str = "", zone: tzinfo = UTC) -> str:
    when = day(message.chat_time or message.created_at, zone)
    return f"{indent}- [{when}] {message.role}: {recalled_text(message.content)}"


def instruction_preference(memory: ShownMemory, language: Language, zone: tzinfo = UTC) -> str:
    kind = memory.preference_type or PreferenceType.EXPLICIT
    label = PREFERENCE_LABELS[language].get(kind, kind)
    when = day(memory.memory_time or memory.create_time, zone)
    line = f"- [{label}, {when}] {recalled_text(memory.memory_value)}"
    if memory.reasoning and kind == PreferenceType.IMPLICIT:
        line += f" ({BECAUSE[language]}{recalled_text(memory.reasoning)})"
    return line
