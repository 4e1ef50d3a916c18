"""The web console's read endpoints: what they take and what they answer.

Times are epoch milliseconds, as in ``get/memory``. Every list is paged with ``offset`` and a
bounded ``limit`` (or ``page`` and ``size`` for memories, as ``get/memory`` does), and answers
``total`` over all pages.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memos_server.api.schemas.common import Id, TopLevelRequest
from memos_server.api.schemas.knowledge import FileDetail

MAX_OFFSET = 1_000_000_000


def _offset() -> Any:
    return Field(default=0, ge=0, le=MAX_OFFSET, description="Rows to skip.")


class ConsoleInfo(BaseModel):
    project: str = Field(description="The name of the key's project.")
    version: str = Field(description="The service's version.")
    chat_available: bool = Field(description="An LLM is configured: /chat answers.")
    llm_model: str | None = Field(description="The configured LLM's model name, if any.")
    embedding_model: str = Field(description="The model the memories are embedded with.")


class UsersRequest(TopLevelRequest):
    offset: int = _offset()
    limit: int = Field(default=100, ge=1, le=500, description="Users to answer (at most 500).")

    model_config = ConfigDict(json_schema_extra={"examples": [{"offset": 0, "limit": 100}]})


class UserSummary(BaseModel):
    user_id: str
    messages: int = Field(description="Raw messages stored.")
    conversations: int = Field(description="Conversations with messages.")
    facts: int = Field(description="Active fact memories.")
    preferences: int = Field(description="Active preference memories.")
    archived: int = Field(description="Archived memories, facts and preferences.")
    last_active: int | None = Field(description="The newest message or memory change.")


class UsersData(BaseModel):
    users: list[UserSummary] = Field(description="Most recently active first.")
    total: int


class ConversationsRequest(TopLevelRequest):
    user_id: Id = Field(min_length=1)
    offset: int = _offset()
    limit: int = Field(default=100, ge=1, le=500, description="Conversations to answer.")

    model_config = ConfigDict(json_schema_extra={"examples": [{"user_id": "memos_user_123"}]})


class ConversationSummary(BaseModel):
    conversation_id: str
    messages: int
    memories: int = Field(description="Active memories made in the conversation.")
    first_time: int = Field(description="Its first message's time.")
    last_time: int = Field(description="Its latest message's time.")


class ConversationsData(BaseModel):
    conversations: list[ConversationSummary] = Field(description="Latest message first.")
    total: int


class MessagesRequest(TopLevelRequest):
    user_id: Id = Field(min_length=1)
    conversation_id: Id = Field(min_length=1)
    offset: int = _offset()
    limit: int = Field(default=200, ge=1, le=500, description="Messages to answer.")

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"user_id": "memos_user_123", "conversation_id": "0610"}]}
    )


class MemoryRef(BaseModel):
    """A memory as the console lists it, whatever its status."""

    id: str
    kind: str = Field(description="fact or preference.")
    mode: str = Field(description="What made it: fast (raw turns), fine (the LLM), feedback.")
    memory_type: str
    preference_type: str | None
    status: str
    memory_key: str
    text: str = Field(description="A fact's memory_value, a preference's preference.")
    tags: list[str]
    create_time: int | None
    update_time: int | None


class ConsoleMessage(BaseModel):
    message_id: int
    role: str
    content: str = Field(description="The message's text.")
    attachments: list[str] = Field(
        description="Its parts other than text (images, files), named briefly."
    )
    time: int | None = Field(description="chat_time if given, else when it was stored.")
    memory_ids: list[str] = Field(description="The memories made from it (see `memories`).")


class MessagesData(BaseModel):
    messages: list[ConsoleMessage] = Field(description="Oldest first.")
    memories: list[MemoryRef] = Field(description="Every memory made from these messages.")
    total: int = Field(description="The conversation's messages, over all pages.")


class MemoriesRequest(TopLevelRequest):
    user_id: Id = Field(min_length=1)
    status: Literal["activated", "archived", "all"] = "all"
    kind: Literal["fact", "preference", "all"] = "all"
    page: int = Field(default=1, ge=1, le=1_000_000, description="Page number, from 1.")
    size: int = Field(default=50, ge=1, le=200, description="Memories per page (at most 200).")

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"user_id": "memos_user_123", "status": "all"}]}
    )


class ConsoleMemory(MemoryRef):
    reasoning: str | None
    confidence: float
    memory_time: str | None
    conversation_id: str | None
    agent_id: str | None
    app_id: str | None
    source_message_ids: list[int] = Field(description="The messages it was made from.")
    expires_at: int | None = Field(
        default=None, description="When it expires (Unix ms), or null: never."
    )


class MemoriesData(BaseModel):
    memories: list[ConsoleMemory] = Field(description="Newest first.")
    total: int
    page: int
    size: int


class HistoryRequest(TopLevelRequest):
    memory_id: Id = Field(min_length=1, max_length=100)
    limit: int = Field(
        default=50, ge=1, le=500, description="The newest changes to answer (at most 500)."
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"memory_id": "6b1e4a4e-8f0c-4d7c-9a51-2f3a2c1d0e9b"}]}
    )


class HistoryRow(BaseModel):
    event: str = Field(description="ADD, UPDATE, ARCHIVE or DELETE.")
    old_value: str | None
    new_value: str | None
    source_message_ids: list[int]
    task_id: str | None
    time: int | None


class SourceMessage(BaseModel):
    message_id: int
    conversation_id: str
    role: str
    content: str
    time: int | None


class HistoryData(BaseModel):
    memory: ConsoleMemory | None = Field(description="The memory now; null once deleted.")
    history: list[HistoryRow] = Field(description="The newest ``limit`` changes, oldest first.")
    total: int = Field(description="How many changes the memory has in all.")
    messages: list[SourceMessage] = Field(description="The messages the history names.")


class KnowledgebasesRequest(TopLevelRequest):
    offset: int = _offset()
    limit: int = Field(default=100, ge=1, le=500, description="Bases to answer (at most 500).")

    model_config = ConfigDict(json_schema_extra={"examples": [{"offset": 0, "limit": 100}]})


class KnowledgebaseSummary(BaseModel):
    id: str = Field(description="The base's id (32 hex digits), as create/knowledgebase gave it.")
    name: str
    description: str | None
    files: int = Field(description="Documents uploaded, whatever their status.")
    running: int = Field(description="Documents still being processed.")
    failed: int = Field(description="Documents whose processing failed.")
    passages: int = Field(description="Passages search can return from it.")
    create_time: int | None


class KnowledgebasesData(BaseModel):
    knowledgebases: list[KnowledgebaseSummary] = Field(description="Newest first.")
    total: int


class PassagesRequest(TopLevelRequest):
    file_id: Id = Field(min_length=1, max_length=100, description="A document's id.")
    offset: int = _offset()
    limit: int = Field(default=50, ge=1, le=200, description="Passages to answer (at most 200).")

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"file_id": "6b1e4a4e8f0c4d7c9a512f3a2c1d0e9b"}]}
    )


class ConsolePassage(BaseModel):
    id: str
    position: int = Field(description="Its place in the document: 0, 1, ...")
    page: int | None = Field(description="A PDF's page it starts on.")
    heading: str = Field(description="The heading path it sits under (A > B), or empty.")
    text: str


class PassagesData(BaseModel):
    file: FileDetail = Field(description="The document, as /get/knowledgebase-file shows it.")
    passages: list[ConsolePassage] = Field(description="In the document's order.")
    total: int = Field(description="The document's passages, over all pages.")
