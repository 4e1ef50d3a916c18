"""add/feedback."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from memos_server.api.schemas.common import Id, ListedId, OptionalId, TopLevelRequest
from memos_server.api.schemas.messages import ChatTime


class AddFeedbackRequest(TopLevelRequest):
    user_id: Id = Field(min_length=1, description="Whose memories the feedback corrects.")
    feedback_content: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = (
        Field(description="The user's correction, in their words.")
    )
    conversation_id: OptionalId = Field(
        default=None, description="The conversation the feedback was given in."
    )
    feedback_time: ChatTime | None = Field(
        default=None,
        description="When it was given ('YYYY-MM-DD HH:MM:SS', ISO-8601 or epoch seconds/ms, "
        "from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z).",
    )
    agent_id: Id | None = Field(
        default=None, description="Only this agent's memories are corrected."
    )
    app_id: OptionalId = None
    allow_public: bool = False
    allow_knowledgebase_ids: list[ListedId] = Field(default_factory=list)
    async_mode: bool = Field(
        default=True, description="false: answer once the feedback is applied (with an LLM)."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "memos_user_123",
                    "conversation_id": "1211",
                    "feedback_content": "我已经不住北京了，上个月搬到了上海。",
                    "feedback_time": "2025-12-11 10:30:00",
                }
            ]
        }
    )
