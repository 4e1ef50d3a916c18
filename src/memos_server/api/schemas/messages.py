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

from memos_server.api.schemas.common import Id, ListedId, MemosRequest, OptionalId, TopLevelRequest
from memos_server.services.ingest import AddMessages, IncomingMessage
from memos_server.services.memory_views import MemoryView
from memos_server.text.blank import is_blank
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
    role_id: OptionalId = Field(
        default=None,
        description="Group chat: who sent it, one of the add's user_id (a user's turn is "
        "theirs) or its agent_id (at most 100 chars).",
    )
    role_name: OptionalId = Field(
        default=None,
        description="The speaker's name, written into the memories so each says who said what "
        "(at most MEMOS_LIMITS__MAX_ROLE_NAME_CHARS, 100).",
    )

    @model_validator(mode="after")
    def _has_content(self) -> ChatMessage:
        if is_blank(self.text) and not self.tool_calls and not self.has_media:
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
    user_id: Id | list[ListedId] = Field(
        min_length=1,
        description="Whose memory this is (at most 100 chars); a list for a group chat: each "
        "user gets the conversation and memories of their own (at most "
        "MEMOS_LIMITS__MAX_GROUP_USERS, 20), with messages[].role_id saying who spoke.",
    )
    conversation_id: Id = Field(min_length=1, description="The conversation (at most 100 chars).")
    messages: list[ChatMessage] = Field(min_length=1, description="The turns, oldest first.")
    agent_id: OptionalId | Annotated[list[ListedId], Field(min_length=1, max_length=1)] | None = (
        Field(
            default=None,
            description="The agent in the conversation; a list of one is accepted (one agent per "
            "add on this server: a list of two is refused).",
        )
    )
    app_id: OptionalId = None
    tags: list[str] = Field(default_factory=list)
    info: dict[str, Any] = Field(default_factory=dict, description="Free metadata, filterable.")
    allow_public: bool = False
    allow_knowledgebase_ids: list[ListedId] = Field(default_factory=list)
    async_mode: bool = True
    source: OptionalId = Field(
        default=None,
        description="The channel the messages came from (an app, a bot, a device; at most "
        "MEMOS_LIMITS__MAX_ID_CHARS characters): kept on each message as sent, returned by "
        "get/message and its filter there; it changes nothing in the memories made.",
    )
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
                {
                    "user_id": ["user_xiaoming", "user_xiaohong"],
                    "agent_id": "trip_helper",
                    "conversation_id": "group-0701",
                    "messages": [
                        {
                            "role": "user",
                            "role_id": "user_xiaoming",
                            "role_name": "小明",
                            "content": "我下周三去杭州出差，想找家安静的酒店。",
                        },
                        {
                            "role": "user",
                            "role_id": "user_xiaohong",
                            "role_name": "小红",
                            "content": "我也去，不过我不吃辣，晚饭找清淡的吧。",
                        },
                        {
                            "role": "assistant",
                            "role_id": "trip_helper",
                            "content": "好的，我会推荐西湖边安静的酒店和清淡的杭帮菜。",
                        },
                    ],
                },
            ]
        }
    )

    @property
    def user_ids(self) -> list[str]:
        """The users named, in order, each once."""
        named = self.user_id if isinstance(self.user_id, list) else [self.user_id]
        return list(dict.fromkeys(named))

    def to_add(self) -> AddMessages:
        """What the service stores (add/message and ``memos-server add`` alike)."""
        users = self.user_ids
        agent = self.agent_id[0] if isinstance(self.agent_id, list) else self.agent_id
        return AddMessages(
            user_id=users[0],
            # A list, even of one user, is a group add: its messages say who spoke.
            group=tuple(users) if isinstance(self.user_id, list) else (),
            conversation_id=self.conversation_id,
            agent_id=agent,
            app_id=self.app_id,
            tags=self.tags,
            info=self.info,
            source=self.source,
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
                    role_id=m.role_id,
                    role_name=m.role_name,
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
    conversation_id: Id | None = Field(
        default=None,
        min_length=1,
        description="The conversation; unset: the user's most recent conversations "
        "(conversation_limit_number of them).",
    )
    message_limit_number: int = Field(
        default=6, ge=1, le=50, description="Messages per conversation, the newest (max 50)."
    )
    conversation_limit_number: int = Field(
        default=6,
        ge=1,
        description="Without conversation_id: how many of the user's most recent conversations "
        "to return (max MEMOS_LIMITS__MAX_CONVERSATIONS_PER_GET, 20), the least recent first; "
        "with one, unused.",
    )
    source: OptionalId = Field(
        default=None,
        description='Only the messages added with this source ("" is none, as an add reads it).',
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"user_id": "memos_user_123", "conversation_id": "0610"}]}
    )


class MessageDetail(BaseModel):
    message_id: int
    role: str
    role_id: str | None = Field(default=None, description="Group chat: who sent it.")
    role_name: str | None = Field(default=None, description="Group chat: the speaker's name.")
    content: str | list[dict[str, Any]]
    create_time: str | None
    update_time: str | None
    conversation_id: str = Field(description="The conversation it belongs to.")
    source: str | None = Field(default=None, description="The source it was added with.")
    tool_call_id: str | None = Field(
        default=None, description="A tool message: the id of the call it answers, as added."
    )
    tool_calls: list[dict[str, Any]] | None = Field(
        default=None, description="An assistant message: the tool calls it made, as added."
    )


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
