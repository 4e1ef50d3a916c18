"""get/status."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from memos_server.api.schemas.common import Id, TopLevelRequest

DataShape = Literal["list", "object"]


class TaskStatusRequest(TopLevelRequest):
    task_id: Id = Field(min_length=1)
    data_shape: DataShape | None = Field(
        default=None,
        description='"object": data is the task itself, as the Cloud answers now (MemoryOS SDK '
        '2.0.24 needs it); "list": data is a list of that one task (SDKs up to 2.0.23 need it; '
        "2.0.25 and later read either). Unset: MEMOS_INGEST__STATUS_SHAPE (list by default).",
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"task_id": "0a89db3a-2061-4c97-a1b8-45700f8745bc"}]}
    )


class MemoryViews(BaseModel):
    """The memories the task changed, by id (``net``: one it added and took back is in none)."""

    added: list[str] = Field(description="Memories it made.")
    updated: list[str] = Field(description="Memories that were there before and it rewrote.")
    deleted: list[str] = Field(description="Memories that were there before and it archived.")


class TaskStatus(BaseModel):
    task_id: str
    status: Literal["running", "completed", "failed"]
    error: str | None = Field(
        default=None,
        description="Why the task failed, if it did; on a completed fine add, the kinds of memory "
        "the model's answer for could not be used (its facts were kept).",
    )
    memory_views: MemoryViews = Field(
        description="The memories the task added, updated and deleted so far: a running fine "
        "add's fast memories, a completed one's extracted memories."
    )
