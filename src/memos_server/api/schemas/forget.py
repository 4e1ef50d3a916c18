"""delete/user and delete/message: forgetting a user, or one conversation of theirs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from memos_server.api.schemas.common import Id, TopLevelRequest


class DeleteUserRequest(TopLevelRequest):
    user_id: Id = Field(min_length=1, description="The user to forget, in the key's project.")

    model_config = ConfigDict(json_schema_extra={"examples": [{"user_id": "memos_user_123"}]})


class DeleteMessageRequest(TopLevelRequest):
    user_id: Id = Field(min_length=1)
    conversation_id: Id = Field(min_length=1, description="The conversation to delete.")

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"user_id": "memos_user_123", "conversation_id": "0610"}]}
    )


class DeletionData(BaseModel):
    success: bool
    deletion_id: int = Field(
        description="The deletion's record (project, digest of the ids, time, counts; no content)."
    )
    deleted: dict[str, int] = Field(
        description="Rows deleted by kind: messages, facts, preferences, feedback_memories (or "
        "memories), history, feedback, tasks, jobs, indexes, profiles, profile_history. All zero "
        "when there was nothing."
    )


class FindDeletionsRequest(TopLevelRequest):
    project: str = Field(min_length=1, max_length=100, description="The project's name.")
    user_id: Id = Field(min_length=1, max_length=100)
    conversation_id: Id | None = Field(
        default=None, min_length=1, max_length=100, description="A deleted conversation's."
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"project": "default", "user_id": "memos_user_123"}]}
    )


class DeletionInfo(BaseModel):
    deletion_id: int
    scope: str = Field(
        description="user (delete/user), conversation (delete/message) or expiry (the "
        "retention sweep purged the user's expired memories)."
    )
    subject: str = Field(description="The keyed digest the record holds instead of the ids.")
    created_at: datetime
    deleted: dict[str, int]
