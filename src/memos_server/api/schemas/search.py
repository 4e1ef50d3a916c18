"""search/memory."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from memos_server.api.schemas.common import Id, TopLevelRequest
from memos_server.api.schemas.memories import MemoryItem, PreferenceItem


class SearchMemoryRequest(TopLevelRequest):
    user_id: Id = Field(min_length=1)
    query: str = Field(min_length=1, description="The user's new message.")
    conversation_id: Id | None = Field(
        default=None, description="The current conversation (context, not a filter)."
    )
    agent_id: Id | None = Field(default=None, description="Only memories of this agent.")
    memory_limit_number: int = Field(default=6, ge=0, description="Facts to return (max 25).")
    include_preference: bool = True
    preference_limit_number: int = Field(
        default=6, ge=0, description="Preferences to return (max 25)."
    )
    relativity: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Minimum relevance; 0 keeps everything; unset: the service's default floor "
        "(MEMOS_SEARCH__RELATIVITY_FLOOR, by default the model's measured level).",
    )
    filter: dict[str, Any] | None = None
    include_tool_memory: bool = False
    tool_memory_limit_number: int = Field(default=6, ge=0, le=25)
    include_skill: bool = False
    skill_limit_number: int = Field(default=6, ge=0, le=25)
    knowledgebase_ids: list[Id] | None = None
    return_instruction: bool = Field(
        default=False,
        description="Also answer `instruction`: the memories and the query as a prompt section.",
    )
    return_full_instruction: bool = Field(
        default=False,
        description="Also answer `full_instruction`: a complete prompt ready for a model.",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "memos_user_123",
                    "conversation_id": "0928",
                    "query": "我国庆想出去玩，帮我推荐个没去过的城市，以及没住过的酒店品牌",
                    "memory_limit_number": 6,
                    "include_preference": True,
                    "preference_limit_number": 6,
                }
            ]
        }
    )


class MemoryDetail(MemoryItem):
    relativity: float = Field(description="Relevance to the query, 0..1.")


class PreferenceDetail(PreferenceItem):
    relativity: float = Field(description="Relevance to the query, 0..1.")


class SearchMemoryData(BaseModel):
    memory_detail_list: list[MemoryDetail]
    preference_detail_list: list[PreferenceDetail]
    tool_memory_detail_list: list[MemoryDetail] = Field(default_factory=list)
    skill_detail_list: list[MemoryDetail] = Field(default_factory=list)
    preference_note: str = ""
    message_detail_list: list[dict[str, Any]] | None = None
    instruction: str | None = Field(
        default=None, description="With return_instruction: memories + query, a prompt section."
    )
    full_instruction: str | None = Field(
        default=None, description="With return_full_instruction: a complete prompt."
    )
