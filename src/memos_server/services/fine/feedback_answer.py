"""add/feedback's model answer read as decisions (ADD / UPDATE / ARCHIVE / NONE) on the memories
it was shown, numbered from 1 (the numbered lines are ``prompts.memory_lines.render_memories``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memos_server.llm.json_output import MalformedOutput, list_under
from memos_server.prompts import Language
from memos_server.prompts.labels import VIEWPOINTS
from memos_server.services.fine.applier import Decision
from memos_server.services.fine.extraction import MAX_ITEMS
from memos_server.services.fine.reconcile import Answer
from memos_server.storage.memory_rows import MemoryOrRow
from memos_server.text.windows import short_title


def read_operations(value: Any, shown: Sequence[MemoryOrRow], language: Language) -> list[Decision]:
    """The model's answer as decisions on the memories it was shown (numbered from 1)."""
    if isinstance(value, dict) and "action" in value:
        items = [value]  # one operation, not wrapped in a list
    else:
        items = list_under(value, "operations")
    operations: list[Decision] = []
    touched: set[int] = set()
    # At most as many as an extraction keeps of a kind: a model that ignored max_tokens sent
    # 3,000 ADDs, each embedded and stored (minutes of both cores).
    for item in items[:MAX_ITEMS]:
        answer = Answer.model_validate(item)
        text = (answer.memory_value or "").strip()
        if answer.action == "NONE":
            continue
        if answer.action == "ADD":
            if not text:
                raise MalformedOutput("ADD needs the new memory_value")
            if not text.startswith(VIEWPOINTS[language]):
                text = VIEWPOINTS[language][0] + text
            key = answer.memory_key or short_title(_without_viewpoint(text, language))
            operations.append(Decision("ADD", None, text, key, answer.tags))
            continue
        if not shown:
            raise MalformedOutput(f"there are no memories to {answer.action}; only ADD is possible")
        if answer.id is None or not 1 <= answer.id <= len(shown):
            raise MalformedOutput(f"id must be one of 1..{len(shown)} for {answer.action}")
        if answer.id in touched:
            raise MalformedOutput(f"memory {answer.id} appears in more than one operation")
        touched.add(answer.id)
        if answer.action == "UPDATE" and not text:
            raise MalformedOutput("UPDATE needs the corrected memory_value")
        target = shown[answer.id - 1]
        operations.append(Decision(answer.action, target, text, answer.memory_key))
    return operations


def _without_viewpoint(text: str, language: Language) -> str:
    for prefix in VIEWPOINTS[language]:
        text = text.removeprefix(prefix)
    return text.strip()
