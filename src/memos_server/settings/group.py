"""The base of every settings group."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Group(BaseModel):
    # A misspelt MEMOS_LLM__MODLE is an error at start-up, not a silently ignored variable.
    model_config = ConfigDict(extra="forbid")
