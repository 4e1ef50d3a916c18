"""Fine mode, step two: decide how each new memory relates to what is already known."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from memos_server.llm import LLM
from memos_server.llm.json_output import MalformedOutput, Usage, ask_json
from memos_server.prompts import Language, load_prompt
from memos_server.services.fine.applier import Action, Decision
from memos_server.services.fine.extraction import model_tags
from memos_server.storage.models import Memory

log = logging.getLogger(__name__)


class Answer(BaseModel):
    """One action on a numbered memory, as a model writes it (also read by ``feedback``)."""

    model_config = ConfigDict(extra="ignore")

    action: Action
    id: int | None = None
    memory_value: str | None = Field(default=None, max_length=4000)
    memory_key: str | None = Field(default=None, max_length=200)
    tags: list[str] = Field(default_factory=list)

    @field_validator("tags", mode="before")
    @classmethod
    def clean_tags(cls, value: Any) -> list[str]:
        return model_tags(value)

    @field_validator("action", mode="before")
    @classmethod
    def clean_action(cls, value: Any) -> str:
        text = str(value or "").strip().upper()
        aliases = {
            "新增": "ADD",
            "更新": "UPDATE",
            "归档": "ARCHIVE",
            "DELETE": "ARCHIVE",
            "无": "NONE",
        }
        return aliases.get(text, text)

    @field_validator("id", mode="before")
    @classmethod
    def clean_id(cls, value: Any) -> Any:
        if isinstance(value, list):
            value = value[0] if value else None
        if value in ("", "null", "None"):
            return None
        return value


def _read(value: Any, candidates: Sequence[Memory]) -> Decision:
    if isinstance(value, list):
        value = value[0] if value else {}
    answer = Answer.model_validate(value)
    if answer.action in ("ADD", "NONE"):
        return Decision(answer.action)
    # Ids shown to the model are 1..n, so it can only point at a memory it was shown.
    if answer.id is None or not 1 <= answer.id <= len(candidates):
        raise MalformedOutput(f"id must be one of 1..{len(candidates)} for {answer.action}")
    target = candidates[answer.id - 1]
    if answer.action == "UPDATE" and not (answer.memory_value or "").strip():
        raise MalformedOutput("UPDATE needs the merged memory_value")
    return Decision(answer.action, target, answer.memory_value, answer.memory_key)


async def decide(
    llm: LLM,
    language: Language,
    new_text: str,
    candidates: Sequence[Memory],
    usage: Usage,
) -> Decision:
    """ADD, UPDATE, ARCHIVE or NONE for one new memory, given the closest existing ones."""
    existing = "\n".join(
        f"{i}. {memory.memory_value}" for i, memory in enumerate(candidates, start=1)
    )
    prompt = load_prompt("reconcile", language).render(existing=existing, new=new_text)
    return await ask_json(llm, prompt, lambda value: _read(value, candidates), usage)
