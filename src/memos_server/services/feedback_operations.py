"""add/feedback's model step, in and out: the memories shown to the model as numbered lines, and
its answer read as operations (ADD / UPDATE / ARCHIVE / NONE) on them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, field_validator

from memos_server.llm.json_output import MalformedOutput, list_under
from memos_server.prompts import Language
from memos_server.prompts.labels import VIEWPOINTS
from memos_server.services.reconcile import Answer
from memos_server.services.windows import short_title
from memos_server.storage.models import Memory


class _Operation(Answer):
    tags: list[str] = Field(default_factory=list)

    @field_validator("tags", mode="before")
    @classmethod
    def clean_tags(cls, value: Any) -> list[str]:
        if isinstance(value, str):
            value = value.replace("，", ",").split(",")
        if not isinstance(value, list):
            return []
        return [str(tag).strip() for tag in value if str(tag).strip()][:5]


@dataclass(frozen=True)
class Operation:
    action: str  # UPDATE | ARCHIVE | ADD
    target: Memory | None = None  # for UPDATE and ARCHIVE
    memory_value: str = ""  # for UPDATE and ADD
    memory_key: str | None = None
    tags: list[str] = field(default_factory=list)


def read_operations(value: Any, shown: Sequence[Memory], language: Language) -> list[Operation]:
    """The model's answer as operations on the memories it was shown (numbered from 1)."""
    if isinstance(value, dict) and "action" in value:
        items = [value]  # one operation, not wrapped in a list
    else:
        items = list_under(value, "operations")
    operations: list[Operation] = []
    touched: set[int] = set()
    for item in items:
        answer = _Operation.model_validate(item)
        text = (answer.memory_value or "").strip()
        if answer.action == "NONE":
            continue
        if answer.action == "ADD":
            if not text:
                raise MalformedOutput("ADD needs the new memory_value")
            if not text.startswith(VIEWPOINTS[language]):
                text = VIEWPOINTS[language][0] + text
            key = answer.memory_key or short_title(_without_viewpoint(text, language))
            operations.append(Operation("ADD", None, text, key, answer.tags))
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
        operations.append(Operation(answer.action, target, text, answer.memory_key))
    return operations


def _without_viewpoint(text: str, language: Language) -> str:
    for prefix in VIEWPOINTS[language]:
        text = text.removeprefix(prefix)
    return text.strip()
