"""add/message and get/message."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from memos_server.api.schemas.common import Id, MemosRequest, TopLevelRequest
from memos_server.services.ingest import AddMessages, IncomingMessage
from memos_server.services.memory_views import MemoryView
from memos_server.times import parse_time


def parse_chat_time(value: Any) -> datetime:
    """``YYYY-MM-DD HH:MM:SS``, ISO-8601, or epoch seconds/milliseconds, within the one range
    of every time (``memos_server.times``). Naive times are UTC."""
    return parse_time(value, numbers="seconds or ms")


# The schema says what is accepted: 'YYYY-MM-DD HH:MM:SS' is not an RFC 3339 date-time (the
# ``format`` pydantic would write), and an epoch number is not a string at all.
ChatTime = Annotated[
    datetime,
    BeforeValidator(parse_chat_time),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}]}),
]


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"]
    text: str


class ImageUrl(BaseModel):
    model_config = ConfigDict(extra="allow")
    url: str


class ImagePart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["image_url"]
    image_url: ImageUrl


class FilePart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["file"]
    file: dict[str, Any]


ContentPart = Annotated[TextPart | ImagePart | FilePart, Field(discriminator="type")]


class ChatMessage(MemosRequest):
    role: Literal["user", "assistant", "system", "tool"]
    content: str | list[ContentPart] | None = None
    chat_time: ChatTime | None = Field(
        default=None,
        description="When it was said: 'YYYY-MM-DD HH:MM:SS', ISO-8601 or epoch seconds/ms, "
        "from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z.",
    )
    tool_call_id: str | None = None
    tool_calls: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _has_content(self) -> ChatMessage:
        if not self.text.strip() and not self.tool_calls and not self.has_media:
            raise ValueError("content is empty")
        return self

    @property
    def has_media(self) -> bool:
        return isinstance(self.content, list) and any(
            not isinstance(part, TextPart) for part in self.content
        )

    @property
    def text(self) -> str:
        """What memories and search read: the text, with a marker for each image or file."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        pieces: list[str] = []
        for part in self.content:
            if isinstance(part, TextPart):
                pieces.append(part.text)
            elif isinstance(part, ImagePart):
                pieces.append("[image]")
            else:
                pieces.append(f"[file: {part.file.get('filename') or 'attachment'}]")
        return "\n".join(pieces)


class AddMessageRequest(TopLevelRequest):
    user_id: Id = Field(min_length=1, description="Whose memory this is (at most 100 chars).")
    conversation_id: Id = Field(min_length=1, description="The conversation (at most 100 chars).")
    messages: list[ChatMessage] = Field(min_length=1, description="The turns, oldest first.")
    agent_id: Id | None = None
    app_id: Id | None = None
    tags: list[str] = Field(default_factory=list)
    info: dict[str, Any] = Field(default_factory=dict, description="Free metadata, filterable.")
    allow_public: bool = False
    allow_knowledgebase_ids: list[Id] = Field(default_factory=list)
    async_mode: bool = True
    allow_memory_view: list[str] | None = Field(
        default=None,
        max_length=len(MemoryView),
        description="The memory views this add may produce: detail_factual, preference, event, "
        "profile, skill, tool_memory. Unset: detail_factual, preference, tool_memory (events "
        "are extracted only when `event` is named; fine mode). Fact windows (fast mode) only "
        "with detail_factual. An unknown name is refused (40000).",
    )
    is_upload_skill: bool = Field(
        default=False,
        description="Every message is a skill file: markdown with a front matter naming `name` "
        "and `description` (text content, or a file part with base64 file_data), at most "
        "MEMOS_LIMITS__MAX_MESSAGE_CHARS characters. Stored as skill memories, nothing else.",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "memos_user_123",
                    "conversation_id": "0610",
                    "messages": [
                        {
                            "role": "user",
                            "content": "我暑假定好去广州旅游，住宿的话有哪些连锁酒店可选？",
                        },
                        {"role": "assistant", "content": "您可以考虑【七天、全季、希尔顿】等等"},
                        {"role": "user", "content": "我选七天"},
                        {"role": "assistant", "content": "好的，有其他问题再问我。"},
                    ],
                },
                {
                    "user_id": "memos_user_456",
                    "conversation_id": "trip-0412",
                    "messages": [
                        {
                            "role": "user",
                            "content": "I'm vegetarian, so no steakhouses for the team dinner.",
                            "chat_time": "2025-04-12 19:05:00",
                        },
                        {
                            "role": "assistant",
                            "content": "Noted: I'll look for vegetarian-friendly places.",
                            "chat_time": "2025-04-12 19:05:04",
                        },
                    ],
                    "async_mode": False,
                },
            ]
        }
    )

    def to_add(self) -> AddMessages:
        """What the service stores (add/message and ``memos-server add`` alike)."""
        return AddMessages(
            user_id=self.user_id,
            conversation_id=self.conversation_id,
            agent_id=self.agent_id,
            app_id=self.app_id,
            tags=self.tags,
            info=self.info,
            memory_views=(
                tuple(self.allow_memory_view) if self.allow_memory_view is not None else None
            ),
            upload_skill=self.is_upload_skill,
            messages=[
                IncomingMessage(
                    role=m.role,
                    text=m.text,
                    parts=(
                        [part.model_dump() for part in m.content]
                        if isinstance(m.content, list)
                        else None
                    ),
                    chat_time=m.chat_time,
                    tool_call_id=m.tool_call_id,
                    tool_calls=m.tool_calls,
                )
                for m in self.messages
            ],
        )


class AddMessageData(BaseModel):
    success: bool
    task_id: str
    status: Literal["running", "completed", "failed"]


class GetMessageRequest(TopLevelRequest):
    user_id: Id = Field(min_length=1)
    conversation_id: Id = Field(min_length=1)
    message_limit_number: int = Field(default=6, ge=1, le=50)

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"user_id": "memos_user_123", "conversation_id": "0610"}]}
    )


class MessageDetail(BaseModel):
    message_id: int
    role: str
    content: str | list[dict[str, Any]]
    create_time: str | None
    update_time: str | None


class GetMessageData(BaseModel):
    message_detail_list: list[MessageDetail]


# Shown in /docs and /redoc under the 200 answer; checked by tests/test_openapi_examples.py.
ADD_ANSWER_EXAMPLES: dict[str, Any] = {
    "queued": {
        "summary": "Stored; fine extraction runs as a job (async_mode true, an LLM configured)",
        "value": {
            "code": 0,
            "message": "ok",
            "data": {
                "success": True,
                "task_id": "0a89db3a-2061-4c97-a1b8-45700f8745bc",
                "status": "running",
            },
        },
    },
    "done": {
        "summary": "Stored and done (async_mode false, or fast mode)",
        "value": {
            "code": 0,
            "message": "ok",
            "data": {
                "success": True,
                "task_id": "5d2f9c71-7e3a-4b8e-9f0d-1c2b3a4d5e6f",
                "status": "completed",
            },
        },
    },
}
