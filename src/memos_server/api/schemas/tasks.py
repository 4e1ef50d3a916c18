"""get/status."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from memos_server.api.schemas.common import Id, TopLevelRequest


class TaskStatusRequest(TopLevelRequest):
    task_id: Id = Field(min_length=1)

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"task_id": "0a89db3a-2061-4c97-a1b8-45700f8745bc"}]}
    )


class TaskStatus(BaseModel):
    task_id: str
    status: Literal["running", "completed", "failed"]
    error: str | None = Field(default=None, description="Why the task failed, if it did.")
