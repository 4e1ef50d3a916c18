"""chat."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from memos_server.api.schemas.common import Id, ListedId, OptionalId, TopLevelRequest


class ChatRequest(TopLevelRequest):
    user_id: Id = Field(min_length=1)
    conversation_id: Id = Field(
        min_length=1, description="The conversation; its recent turns go to the model."
    )
    query: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="The user's new message."
    )
    system_prompt: str | None = Field(
        default=None, description="Your instructions, sent before the recalled memories."
    )
    stream: bool = Field(default=False, description="Answer as server-sent events.")
    memory_limit_number: int = Field(default=6, ge=0, description="Facts to recall (max 25).")
    include_preference: bool = True
    preference_limit_number: int = Field(
        default=6, ge=0, description="Preferences to recall (max 25)."
    )
    relativity: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Minimum relevance of a recalled memory; unset: the service's default floor.",
    )
    filter: dict[str, Any] | None = Field(
        default=None,
        description="Which memories (and passages) to recall: the search/memory grammar, "
        'plain or split as {"user": …, "knowledgebase": …}.',
    )
    knowledgebase_ids: list[ListedId] | None = Field(
        default=None,
        description='Knowledge bases whose passages the model sees too (["all"]: every base '
        "of the project); MEMOS_KNOWLEDGE__SEARCH_LIMIT passages at most.",
    )
    model_name: str | None = Field(
        default=None,
        description="Accepted for compatibility and not used: the configured model "
        "(MEMOS_LLM__MODEL) answers.",
    )
    max_tokens: int | None = Field(
        default=None, ge=1, description="Longest answer; capped by MEMOS_LLM__MAX_OUTPUT_TOKENS."
    )
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    add_message_on_answer: bool = Field(
        default=True, description="Store the query and the answer as a turn of the conversation."
    )
    async_mode: bool = Field(
        default=True, description="false: answer once the stored turn's memories are made."
    )
    agent_id: OptionalId = Field(default=None, description="Only this agent's memories.")
    app_id: OptionalId = None
    tags: list[str] = Field(default_factory=list, description="Tags of the stored turn.")
    info: dict[str, Any] = Field(default_factory=dict, description="Metadata of the stored turn.")
    source: OptionalId = Field(
        default=None,
        description="The channel the turn came from (at most MEMOS_LIMITS__MAX_ID_CHARS "
        "characters), kept on the stored turn and returned by get/message.",
    )
    allow_public: bool = False
    allow_knowledgebase_ids: list[ListedId] = Field(
        default_factory=list,
        description="Knowledge bases the stored turn's memories are written into (as add/message).",
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
                    "stream": False,
                }
            ]
        }
    )


class ChatData(BaseModel):
    response: str = Field(description="The model's answer.")
    reasoning: str | None = Field(
        default=None, description="The model's reasoning, if it is a reasoning model."
    )
    task_id: str | None = Field(
        default=None, description="The add that stored this turn (null when not stored)."
    )
