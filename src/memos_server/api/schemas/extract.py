"""extract/memory."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from memos_server.api.schemas.common import TopLevelRequest
from memos_server.api.schemas.messages import ChatMessage

ExtractionKind = Literal["memory", "preference"]


def _every_kind() -> list[ExtractionKind]:
    return ["memory", "preference"]


class ExtractMemoryRequest(TopLevelRequest):
    messages: list[ChatMessage] = Field(min_length=1, description="The turns, oldest first.")
    extraction_types: list[ExtractionKind] = Field(
        default_factory=_every_kind,
        min_length=1,
        description="What to extract: facts (`memory`), preferences (`preference`); both when "
        "omitted.",
    )
    model: str | None = Field(
        default=None, description="Accepted and ignored: the configured LLM extracts."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "messages": [
                        {"role": "user", "content": "我暑假定好去广州旅游，住哪家连锁酒店好？"},
                        {"role": "assistant", "content": "您可以考虑七天、全季、希尔顿等等。"},
                        {"role": "user", "content": "我选七天。"},
                    ],
                    "extraction_types": ["memory", "preference"],
                }
            ]
        }
    )


class ExtractMemoryItem(BaseModel):
    memory_key: str
    memory_value: str
    memory_type: str
    tags: list[str]


class ExtractPreferenceItem(BaseModel):
    preference: str
    reasoning: str
    preference_type: Literal["explicit_preference", "implicit_preference"]


class ExtractMemoryData(BaseModel):
    success: bool = True
    memory_detail_list: list[ExtractMemoryItem]
    preference_detail_list: list[ExtractPreferenceItem]
    mode: Literal["fine", "fast"] = Field(
        description="`fine`: the configured LLM extracted them with fine mode's prompts; `fast`: "
        "no LLM is configured, so these are the windows of raw turns an add would store, and no "
        "preferences."
    )
    note: str | None = Field(default=None, description="Says so in words in fast mode.")


EXTRACT_ANSWER_EXAMPLES = {
    "fine": {
        "summary": "With an LLM (fine mode): facts and preferences, nothing stored",
        "value": {
            "code": 0,
            "message": "ok",
            "data": {
                "success": True,
                "memory_detail_list": [
                    {
                        "memory_key": "暑假广州旅游住宿",
                        "memory_value": "[user观点]用户计划暑假去广州旅游，选择住七天连锁酒店。",
                        "memory_type": "UserMemory",
                        "tags": ["旅游", "酒店"],
                    }
                ],
                "preference_detail_list": [
                    {
                        "preference": "用户可能偏好经济型连锁酒店。",
                        "reasoning": "用户在几个选项中选择了七天。",
                        "preference_type": "implicit_preference",
                    }
                ],
                "mode": "fine",
                "note": None,
            },
        },
    },
    "fast": {
        "summary": "Without an LLM (fast mode): the windows an add would store",
        "value": {
            "code": 0,
            "message": "ok",
            "data": {
                "success": True,
                "memory_detail_list": [
                    {
                        "memory_key": "我暑假定好去广州旅游",
                        "memory_value": "user: 我暑假定好去广州旅游，住哪家连锁酒店好？\n"
                        "assistant: 您可以考虑七天、全季、希尔顿等等。\nuser: 我选七天。",
                        "memory_type": "LongTermMemory",
                        "tags": ["mode:fast"],
                    }
                ],
                "preference_detail_list": [],
                "mode": "fast",
                "note": "no LLM is configured: these are the windows of raw turns add/message "
                "would store in fast mode; preferences need an LLM",
            },
        },
    },
}
