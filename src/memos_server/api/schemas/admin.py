"""The admin API: projects and their API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from memos_server.api.schemas.common import TopLevelRequest
from memos_server.services.apikeys import MAX_NAME_CHARS

ProjectName = Field(min_length=1, max_length=MAX_NAME_CHARS, description="A project's unique name.")


class CreateProjectRequest(TopLevelRequest):
    name: str = ProjectName


class ProjectInfo(BaseModel):
    id: str
    name: str
    created_at: datetime
    active_keys: int | None = Field(default=None, description="Keys not revoked (in listings).")
    created: bool | None = Field(default=None, description="Made by this request (on create).")
    ttl_days: int | None = Field(
        default=None,
        description="Days a memory made by an add lives (0: forever; null: the service's "
        "MEMOS_RETENTION__DEFAULT_TTL_DAYS).",
    )


class ProjectTtlRequest(TopLevelRequest):
    project: str = ProjectName

    @model_validator(mode="before")
    @classmethod
    def _null_is_default(cls, data: Any) -> Any:
        """Here ``ttl_days: null`` is a value (the service's default), not an absent field."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None or k == "ttl_days"}
        return data

    ttl_days: int | None = Field(
        ge=0,
        le=36_500,
        description="Days a memory made by an add to the project lives from now on (0: forever; "
        "null: the service's default). At most MEMOS_RETENTION__MAX_TTL_DAYS; memories already "
        "stored keep their expiry.",
    )


class CreateKeyRequest(TopLevelRequest):
    project: str = Field(
        min_length=1, max_length=MAX_NAME_CHARS, description="The key's project (created if new)."
    )
    name: str = Field(default="", max_length=MAX_NAME_CHARS, description="A label for the key.")


class NewKeyData(BaseModel):
    key: str = Field(description="The key itself: shown only in this response, never again.")
    prefix: str = Field(description="Its first characters: how listings and revoke name it.")
    project: str


class KeyInfo(BaseModel):
    prefix: str
    project: str
    name: str
    created_at: datetime
    last_used_at: datetime | None = Field(description="Kept to the minute.")
    revoked_at: datetime | None


class RevokeKeyRequest(TopLevelRequest):
    prefix: str = Field(min_length=1, max_length=100, description="The key's prefix, from a list.")


class RevokeKeyData(BaseModel):
    revoked: int = Field(description="Keys revoked (one, unless prefixes collide).")


class ReindexRequest(TopLevelRequest):
    model: str = Field(
        min_length=1,
        max_length=200,
        description="The new model, as MEMOS_EMBEDDING__MODEL names it (same provider).",
    )


class ReindexStatus(BaseModel):
    model: str | None = Field(description="The model the reindex re-embeds with (None: none).")
    phase: str = Field(
        description="idle (no reindex), pending (under way in another process, or stopped), "
        "embedding, swapping, done, failed."
    )
    done: int = Field(description="Memories with the new model's vector.")
    total: int = Field(description="Memories in all.")
    embedded: int = Field(default=0, description="Re-embedded by this process's run.")
    here: bool = Field(default=False, description="The reindex runs in this process.")
    error: str | None = None
