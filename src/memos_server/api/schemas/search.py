"""search/memory."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memos_server.api.schemas.common import NOT_BLANK, Id, ListedId, OptionalId, TopLevelRequest
from memos_server.api.schemas.memories import (
    VIEWS_FIELD,
    EventItem,
    MemoryItem,
    PreferenceItem,
    SkillItem,
    ToolMemoryItem,
)
from memos_server.api.schemas.profiles import ProfileFieldDetail


class SearchMemoryRequest(TopLevelRequest):
    user_id: Id | None = Field(
        default=None,
        min_length=1,
        description="Whose memories (required unless agent_id is given).",
    )
    query: str = Field(min_length=1, pattern=NOT_BLANK, description="The user's new message.")
    conversation_id: Id | None = Field(
        default=None, description="The current conversation (context, not a filter)."
    )
    # Empty is absent, as on add/message, where an empty agent_id stores none: no memory has
    # agent "" (it answered nothing, silently).
    agent_id: OptionalId = Field(
        default=None,
        description="Only memories of this agent; alone (no user_id): the agent's memories of "
        "every user of the project. Empty: none.",
    )
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
    include_memory_view: list[str] | None = VIEWS_FIELD
    knowledgebase_ids: list[ListedId] | None = Field(
        default=None,
        description='Knowledge bases whose passages to return too (["all"]: every base of the '
        "project); they follow the memories in memory_detail_list.",
    )
    knowledgebase_limit_number: int | None = Field(
        default=None,
        ge=0,
        description="Passages to return at most (default MEMOS_KNOWLEDGE__SEARCH_LIMIT, 6; "
        "max 25); memory_limit_number still counts the memories alone.",
    )
    return_instruction: bool = Field(
        default=False,
        description="Also answer `instruction`: the memories and the query as a prompt section.",
    )
    return_full_instruction: bool = Field(
        default=False,
        description="Also answer `full_instruction`: a complete prompt ready for a model.",
    )
    context_format: Literal["memory", "sources", "mixed"] = Field(
        default="memory",
        description='What stands for a fact in instruction / full_instruction: "memory" its '
        'text; "sources" the messages it was made from, as said ("- [date] user: ..."); '
        '"mixed" its text, then those messages indented. With "sources" and "mixed", '
        "message_detail_list lists those messages too (at most "
        "MEMOS_SEARCH__CONTEXT_SOURCE_MESSAGES, 5, per fact). Memory items are the same.",
    )
    source: Id | None = Field(
        default=None,
        description="The channel the search comes from, as the SDK sends it; it filters nothing "
        "(get/message's source does).",
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
                },
                {
                    "user_id": "memos_user_456",
                    "query": "Where should we book the team dinner?",
                    "memory_limit_number": 6,
                    "include_preference": True,
                },
            ]
        }
    )


class MemoryDetail(MemoryItem):
    relativity: float = Field(description="Relevance to the query, 0..1.")


class PreferenceDetail(PreferenceItem):
    relativity: float = Field(description="Relevance to the query, 0..1.")


class EventDetail(EventItem):
    relativity: float = Field(description="Relevance to the query, 0..1.")


class ToolMemoryDetail(ToolMemoryItem):
    relativity: float = Field(description="Relevance to the query, 0..1.")


class SkillDetail(SkillItem):
    relativity: float = Field(description="Relevance to the query, 0..1.")


class PassageDetail(BaseModel):
    """A knowledge-base passage, in memory_detail_list's shape (as the Cloud returns its
    knowledge memories), with where it comes from."""

    id: str
    memory_key: str = Field(description="The heading it sits under, else the file's name.")
    memory_value: str = Field(description="The passage's text.")
    memory_type: str = "LongTermMemory"
    memory_time: str | None = None
    conversation_id: str | None = None
    status: str = "activated"
    confidence: float = 1.0
    tags: list[str] = Field(default_factory=lambda: ["knowledgebase"])
    create_time: int | None
    update_time: int | None
    relativity: float = Field(description="Relevance to the query, 0..1.")
    source: str = Field(default="knowledgebase", description="Tells a passage from a memory.")
    knowledgebase_id: str
    file_id: str
    file_name: str
    position: int = Field(description="Its place in the document: 0, 1, ...")
    page: int | None = Field(description="A PDF's page it starts on.")
    heading: str


class SearchMemoryData(BaseModel):
    memory_detail_list: list[MemoryDetail | PassageDetail] = Field(
        description="The user's memories, best first, then (with knowledgebase_ids) the "
        "passages, best first."
    )
    preference_detail_list: list[PreferenceDetail]
    tool_memory_detail_list: list[ToolMemoryDetail] = Field(
        default_factory=list,
        description="Tool trajectories (include_tool_memory, or the tool_memory view).",
    )
    skill_detail_list: list[SkillDetail] = Field(
        default_factory=list, description="Skills (include_skill, or the skill view)."
    )
    event_detail_list: list[EventDetail] = Field(
        default_factory=list, description="Events (the event view)."
    )
    profile_detail_list: list[ProfileFieldDetail] = Field(
        default_factory=list,
        description='With "profile" in include_memory_view: the filled fields of the user\'s '
        "profiles, one item each (not ranked).",
    )
    preference_note: str = ""
    message_detail_list: list[dict[str, Any]] | None = Field(
        default=None,
        description='With context_format "sources" or "mixed": the messages the facts were made '
        "from, in the facts' order, each once ({message_id, role, content, conversation_id, "
        "create_time, update_time, source}); else null.",
    )
    instruction: str | None = Field(
        default=None, description="With return_instruction: memories + query, a prompt section."
    )
    full_instruction: str | None = Field(
        default=None, description="With return_full_instruction: a complete prompt."
    )


# Shown in /docs and /redoc under the 200 answer (OpenAPI Example Objects); checked against
# the answer's schema by tests/test_openapi_examples.py.
SEARCH_ANSWER_EXAMPLES: dict[str, Any] = {
    "zh": {
        "summary": "记得住过的酒店和偏好",
        "value": {
            "code": 0,
            "message": "ok",
            "data": {
                "memory_detail_list": [
                    {
                        "id": "6b1e4a4e-8f0c-4d7c-9a51-2f3a2c1d0e9b",
                        "memory_key": "暑假广州旅游住宿",
                        "memory_value": "[user观点]用户暑假去广州旅游，选择住七天酒店。",
                        "memory_type": "UserMemory",
                        "memory_time": "2025-06-10 09:12:40",
                        "conversation_id": "0610",
                        "status": "activated",
                        "confidence": 0.99,
                        "tags": ["旅游", "广州", "酒店"],
                        "create_time": 1749546760000,
                        "update_time": 1749546760000,
                        "sources": [{"type": "chat", "message_id": 3}],
                        "relativity": 0.82,
                    }
                ],
                "preference_detail_list": [
                    {
                        "id": "2f6c0d1e-3b7a-4c5e-8d9f-0a1b2c3d4e5f",
                        "preference_type": "explicit_preference",
                        "preference": "用户出行住宿偏好经济型连锁酒店。",
                        "reasoning": "用户在几个连锁品牌中选择了七天。",
                        "conversation_id": "0610",
                        "status": "activated",
                        "tags": ["住宿"],
                        "create_time": 1749546760000,
                        "update_time": 1749546760000,
                        "relativity": 0.74,
                    }
                ],
                "tool_memory_detail_list": [],
                "skill_detail_list": [],
                "preference_note": "",
            },
        },
    },
    "views": {
        "summary": "include_memory_view: event and tool_memory",
        "value": {
            "code": 0,
            "message": "ok",
            "data": {
                "memory_detail_list": [],
                "preference_detail_list": [],
                "event_detail_list": [
                    {
                        "id": "d7785b39-1374-4738-b449-3e86ab1f8b2f",
                        "event_key": "方案评审与交付调整",
                        "event_value": "用户与李四于上周二下午完成方案评审，客户希望将交付时间"
                        "提前至七月底。",
                        "event_type": "EventMemory",
                        "event_time": ["上周二下午", "七月底"],
                        "event_location": [],
                        "event_roles": ["用户", "李四", "客户"],
                        "memory_time": "2026-06-23 00:00:00",
                        "conversation_id": "conv_0624",
                        "status": "activated",
                        "confidence": 0.9,
                        "tags": ["工作", "评审"],
                        "create_time": 1782293751765,
                        "update_time": 1782293751765,
                        "sources": [{"type": "chat", "message_id": 1}],
                        "relativity": 0.64,
                    }
                ],
                "tool_memory_detail_list": [
                    {
                        "id": "4b208707-991a-481c-9dd6-c7f0577ff371",
                        "tool_type": "ToolTrajectoryMemory",
                        "tool_value": "user: 北京现在天气怎么样？\n"
                        'tool_call: get_weather({"location": "北京"})\n'
                        'tool_result: {"temperature": "7°C", "condition": "多云"}',
                        "tool_name": "get_weather",
                        "tool_call_id": "call_123",
                        "tool_used_status": [
                            {
                                "used_tool": "get_weather",
                                "error_type": "",
                                "success_rate": 1.0,
                                "tool_experience": "",
                            }
                        ],
                        "experience": "",
                        "conversation_id": "demo-conv-id",
                        "status": "activated",
                        "tags": [],
                        "create_time": 1782293806624,
                        "update_time": 1782293806624,
                        "sources": [
                            {"type": "chat", "message_id": 2},
                            {"type": "chat", "message_id": 3},
                        ],
                        "relativity": 0.48,
                    }
                ],
                "skill_detail_list": [],
                "preference_note": "",
            },
        },
    },
    "en": {
        "summary": "A dietary preference, found",
        "value": {
            "code": 0,
            "message": "ok",
            "data": {
                "memory_detail_list": [
                    {
                        "id": "c4d8e2f0-1a2b-4c3d-9e8f-7a6b5c4d3e2f",
                        "memory_key": "Vegetarian diet",
                        "memory_value": "user: I'm vegetarian, so no steakhouses for the team "
                        "dinner.\nassistant: Noted: I'll look for vegetarian-friendly places.",
                        "memory_type": "LongTermMemory",
                        "memory_time": "2025-04-12 19:05:00",
                        "conversation_id": "trip-0412",
                        "status": "activated",
                        "confidence": 0.99,
                        "tags": ["mode:fast"],
                        "create_time": 1744484700000,
                        "update_time": 1744484700000,
                        "sources": [
                            {"type": "chat", "message_id": 1},
                            {"type": "chat", "message_id": 2},
                        ],
                        "relativity": 0.68,
                    }
                ],
                "preference_detail_list": [],
                "tool_memory_detail_list": [],
                "skill_detail_list": [],
                "preference_note": "",
            },
        },
    },
}
