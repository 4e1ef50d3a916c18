"""Stored memories: their wire shape, and get/memory, delete/memory and update/memory."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from memos_server.api.schemas.common import Id, ListedId, TopLevelRequest
from memos_server.api.schemas.profiles import ProfileDetail

MAX_PAGE_SIZE = 50
MAX_DELETE_IDS = 1000


class MemoryItem(BaseModel):
    """A fact memory as every endpoint shows it."""

    id: str
    memory_key: str
    memory_value: str
    memory_type: str
    memory_time: str | None
    conversation_id: str | None
    status: str
    confidence: float
    tags: list[str]
    create_time: int | None
    update_time: int | None
    sources: list[dict[str, Any]] = Field(
        default_factory=list, description="The messages the memory was made from."
    )


class PreferenceItem(BaseModel):
    """A preference memory as every endpoint shows it."""

    id: str
    preference_type: Literal["explicit_preference", "implicit_preference"] | str
    preference: str
    reasoning: str
    conversation_id: str | None
    status: str
    tags: list[str]
    create_time: int | None
    update_time: int | None


class EventItem(BaseModel):
    """An event memory (``include_memory_view: ["event"]``), in the Cloud's shape."""

    id: str
    event_key: str = Field(description="A short title of the event.")
    event_value: str = Field(description="What happened, in full.")
    event_type: str = Field(default="EventMemory")
    event_time: list[str] = Field(description="When, in the conversation's own words.")
    event_location: list[str] = Field(description="Where.")
    event_roles: list[str] = Field(description="Who took part.")
    memory_time: str | None = Field(description="The day it happened, when it could be told.")
    conversation_id: str | None
    status: str
    confidence: float
    tags: list[str]
    create_time: int | None
    update_time: int | None
    sources: list[dict[str, Any]] = Field(default_factory=list)


class ToolUse(BaseModel):
    used_tool: str
    error_type: str = ""
    success_rate: float = 1.0
    tool_experience: str = ""


class ToolMemoryItem(BaseModel):
    """A tool memory: one call and its result as sent (``ToolTrajectoryMemory``)."""

    id: str
    tool_type: str = Field(default="ToolTrajectoryMemory")
    tool_value: str = Field(description="The user's request, the call and its result, verbatim.")
    tool_name: str
    tool_call_id: str | None
    tool_used_status: list[ToolUse] = Field(default_factory=list)
    experience: str = Field(default="", description="What the trajectory taught (fine mode).")
    conversation_id: str | None
    status: str
    tags: list[str]
    create_time: int | None
    update_time: int | None
    sources: list[dict[str, Any]] = Field(default_factory=list)


class SkillValue(BaseModel):
    name: str
    description: str
    content: str = Field(description="The whole skill file (markdown).")


class SkillItem(BaseModel):
    """A skill uploaded through add/message (``is_upload_skill``)."""

    id: str
    skill_value: SkillValue
    skill_url: str | None = Field(
        default=None, description="A download link; none: the file is skill_value.content."
    )
    conversation_id: str | None
    status: str
    tags: list[str]
    create_time: int | None
    update_time: int | None


class _Owner(BaseModel):
    user_id: str
    agent_id: str | None
    app_id: str | None
    info: dict[str, Any] = Field(
        default_factory=dict, description="The metadata given at add time."
    )
    expires_at: int | None = Field(
        default=None,
        description="When the memory expires (Unix ms; docs/retention.md), or null: never. "
        "Not a MemOS Cloud field: an addition its SDK's models accept as an extra.",
    )


class StoredMemory(_Owner, MemoryItem):
    """A fact memory outside a search: no relativity; whose it is and its metadata."""


class StoredPreference(_Owner, PreferenceItem):
    """A preference memory outside a search: no relativity; whose it is and its metadata."""

    sources: list[dict[str, Any]] = Field(
        default_factory=list, description="The messages the preference was inferred from."
    )


class StoredEvent(_Owner, EventItem):
    """An event memory outside a search."""


class StoredToolMemory(_Owner, ToolMemoryItem):
    """A tool memory outside a search."""


class StoredSkill(_Owner, SkillItem):
    """A skill outside a search."""


StoredAny = StoredMemory | StoredPreference | StoredEvent | StoredToolMemory | StoredSkill

VIEWS_FIELD = Field(
    default=None,
    max_length=6,
    description="The memory views to return: detail_factual, preference, event, profile, "
    "skill, tool_memory. Set: include_preference / include_tool_memory / include_skill are "
    "ignored. An unknown name is refused (40000).",
)


class GetMemoryRequest(TopLevelRequest):
    user_id: Id | None = Field(
        default=None,
        min_length=1,
        description="Whose memories (required unless agent_id is given).",
    )
    agent_id: Id | None = Field(
        default=None,
        min_length=1,
        description="Only this agent's memories; alone: the agent's memories of every user.",
    )
    page: int = Field(default=1, ge=1, description="Page number, from 1.")
    size: int = Field(
        default=10, ge=1, le=MAX_PAGE_SIZE, description="Memories per page (at most 50)."
    )
    filter: dict[str, Any] | None = Field(
        default=None, description="The filter grammar of search/memory."
    )
    include_preference: bool = True
    include_tool_memory: bool = False
    include_memory_view: list[str] | None = Field(
        default=None,
        max_length=6,
        description="The memory views to return: detail_factual, preference, event, profile, "
        "skill, tool_memory. Set: include_preference / include_tool_memory are ignored. Unset: "
        "the older flags decide, and profile_detail_list holds the subject's profiles. An "
        "unknown name is refused (40000).",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "memos_user_123",
                    "page": 1,
                    "size": 10,
                    "include_preference": True,
                    "filter": {"and": [{"create_time": {"gte": "2025-10-01"}}]},
                }
            ]
        }
    )


class GetMemoryData(BaseModel):
    memory_detail_list: list[StoredMemory]
    preference_detail_list: list[StoredPreference]
    tool_memory_detail_list: list[StoredToolMemory] = Field(default_factory=list)
    event_detail_list: list[StoredEvent] = Field(default_factory=list)
    skill_detail_list: list[StoredSkill] = Field(default_factory=list)
    profile_detail_list: list[ProfileDetail] = Field(
        default_factory=list,
        description="The profiles of the user (of the agent, with agent_id alone), whole; "
        "unless include_memory_view leaves profile out.",
    )
    total: int = Field(description="Fact memories matching, over all pages.")
    preference_total: int = Field(description="Preference memories matching, over all pages.")
    size: int = Field(description="Page size.")
    current: int = Field(description="This page's number.")
    pages: int = Field(description="Pages needed to list both lists to their end.")


class DeleteMemoryRequest(TopLevelRequest):
    memory_ids: list[ListedId] | None = Field(
        default=None, max_length=MAX_DELETE_IDS, description="These memories."
    )
    user_id: Id | None = Field(
        default=None, min_length=1, description="All of this user's memories."
    )
    agent_id: Id | None = Field(
        default=None, min_length=1, description="All of this agent's memories, of every user."
    )
    filter: dict[str, Any] | None = Field(
        default=None,
        description="The project's memories matching this filter; with user_id, that user's.",
    )
    memory_type: str | None = Field(
        default=None,
        min_length=1,
        description="Only memories of this type: WorkingMemory, LongTermMemory, UserMemory "
        "(facts), PreferenceMemory (every preference), explicit_preference, "
        "implicit_preference, EventMemory, ToolMemory / ToolTrajectoryMemory, SkillMemory.",
    )

    @model_validator(mode="before")
    @classmethod
    def _only_known_fields(cls, data: Any) -> Any:
        """A deletion wider than named memories takes no field it does not know. Ignored, a
        narrowing field the client meant (``conversation_id``, ``memory_id``, a misspelt
        ``filters``) would widen the deletion to every memory of the user. Empty values narrow
        nothing, and ``memory_ids`` name exactly what goes. The older SDK's ``user_ids`` (one
        user) is read as ``user_id``; beside ``memory_ids`` it is ignored, as it always was."""
        if not isinstance(data, dict):
            return data
        user_ids = data.get("user_ids")
        if user_ids not in (None, []) and not data.get("memory_ids"):
            if not (isinstance(user_ids, list) and len(user_ids) == 1):
                raise ValueError("user_ids names one user here (or use user_id)")
            if data.get("user_id") not in (None, user_ids[0]):
                raise ValueError("user_ids and user_id name different users")
            data = {k: v for k, v in data.items() if k != "user_ids"} | {"user_id": user_ids[0]}
        if data.get("memory_ids"):
            return data
        unknown = [
            k
            for k, v in data.items()
            if k not in cls.model_fields and v not in (None, [], {}, False)
        ]
        if unknown:
            names = ", ".join(str(k)[:64] for k in unknown[:5])
            hint = (
                " (a conversation is deleted by delete/message)"
                if "conversation_id" in unknown
                else ""
            )
            raise ValueError(
                f"delete/memory does not take {names}{hint}: it deletes by memory_ids, "
                "user_id, agent_id or filter, narrowed by memory_type"
            )
        return data

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"memory_ids": ["6b1e4a4e-8f0c-4d7c-9a51-2f3a2c1d0e9b"]},
                {"user_id": "memos_user_123", "memory_type": "PreferenceMemory"},
            ]
        }
    )


class DeleteMemoryData(BaseModel):
    success: bool
    deleted_count: int = Field(description="Memories deleted.")


class UpdateMemoryRequest(TopLevelRequest):
    memory_id: Id = Field(min_length=1)
    content: str | None = Field(
        default=None, min_length=1, description="The new text (a preference's preference)."
    )
    title: str | None = Field(default=None, min_length=1, description="The new memory_key.")
    status: Literal["activated", "archived"] | None = Field(
        default=None, description="archived: search no longer returns it."
    )

    @field_validator("content", "title")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value

    model_config = ConfigDict(
        json_schema_extra={
            # At least one change (service: "content, title or status is required").
            "anyOf": [
                {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
                for name in ("content", "title", "status")
            ],
            "examples": [
                {
                    "memory_id": "6b1e4a4e-8f0c-4d7c-9a51-2f3a2c1d0e9b",
                    "content": "[user观点]用户国庆计划去成都旅游。",
                    "title": "国庆旅行计划",
                }
            ],
        }
    )


class UpdateMemoryData(BaseModel):
    success: bool
    memory: StoredAny = Field(description="The memory as it is now.")
