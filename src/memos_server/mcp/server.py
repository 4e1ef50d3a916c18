"""The MCP server: the tools, named and shaped like MemOS's ``memos-api-mcp`` (``add_message``,
``search_memory``, ``delete_memory``, ``add_feedback``, ``get_user_profile``, and the knowledge-base
tools of ``mcp.knowledge``) so that its users can point their client here instead.

Each tool builds the REST endpoint's request model from its arguments, so every limit and rule
of the API holds (a bad argument is a tool error with the API's message and code, never a crash),
then calls ``tools``. Who is calling comes from ``resolve``: over HTTP the key checked before the
request reached the SDK (``mcp.http``), over stdio the command's key (``mcp.stdio``).

The user: a tool's ``user_id``, else the connection's default user (the ``X-Memos-User-Id``
header; ``MEMOS_USER_ID`` or ``--user-id`` for the stdio command). The conversation: its
``conversation_id``, else one made from ``conversation_first_message`` as memos-api-mcp makes it
(the MD5 of the user id, a newline and that message), so the same thread keeps one id.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from memos_server import __version__
from memos_server.api.schemas.feedback import AddFeedbackRequest
from memos_server.api.schemas.memories import (
    DeleteMemoryData,
    DeleteMemoryRequest,
    GetMemoryData,
    GetMemoryRequest,
)
from memos_server.api.schemas.messages import AddMessageData, AddMessageRequest
from memos_server.api.schemas.search import SearchMemoryData, SearchMemoryRequest
from memos_server.mcp import text, tools
from memos_server.mcp.answers import Resolve, answer, as_tool_errors
from memos_server.mcp.descriptions import (
    ADD_FEEDBACK,
    ADD_MESSAGE,
    DELETE_MEMORY,
    GET_USER_PROFILE,
    INSTRUCTIONS,
    SEARCH_MEMORY,
)
from memos_server.mcp.knowledge import add_knowledge_tools
from memos_server.mcp.tools import Caller


class Turn(BaseModel):
    """One message of the conversation."""

    model_config = ConfigDict(extra="allow")
    role: str = Field(description="user, assistant, system or tool.")
    content: str = Field(description="What was said.")
    chat_time: str | int | None = Field(
        default=None,
        description="When: 'YYYY-MM-DD HH:MM:SS', ISO-8601 or epoch seconds/ms (default: now).",
    )


UserId = Annotated[
    str | None,
    Field(description="Whose memory: a stable id of the person (default: the connection's user)."),
]
ConversationId = Annotated[str | None, Field(description="The conversation's id, if you have one.")]
FirstMessage = Annotated[
    str | None,
    Field(
        description="The user's first message of this conversation; names the conversation when "
        "conversation_id is not given (send the same text on every call of the thread)."
    ),
]
AgentId = Annotated[str | None, Field(description="Only this agent's memories.")]


def user_of(caller: Caller, user_id: str | None) -> str:
    chosen = user_id if user_id is not None else caller.default_user
    if chosen is None:
        raise ToolError(
            "user_id is required: name the user, or give the connection a default user "
            "(the X-Memos-User-Id header; MEMOS_USER_ID for `memos-server mcp`)"
        )
    return chosen


def conversation_of(user: str, conversation_id: str | None, first: str | None) -> str | None:
    if conversation_id is not None:
        return conversation_id
    if first is not None and first.strip():
        return hashlib.md5(f"{user}\n{first}".encode(), usedforsecurity=False).hexdigest()
    return None


@contextmanager
def logging_left_alone() -> Iterator[None]:
    """The SDK's server calls ``logging.basicConfig`` (a rich handler on the root logger, at
    INFO) when it is made; that does nothing to a root logger with a handler. Logging is
    ``memos_server.logs``'s to configure, made or not yet."""
    root = logging.getLogger()
    guard = logging.NullHandler()
    root.addHandler(guard)
    try:
        yield
    finally:
        root.removeHandler(guard)


def build_server(resolve: Resolve) -> MCPServer:
    with logging_left_alone():
        server: MCPServer = MCPServer(
            "memos-server",
            title="memos-server memory",
            version=__version__,
            instructions=INSTRUCTIONS,
        )

    @server.tool(name="add_message", description=ADD_MESSAGE)
    async def add_message(
        messages: Annotated[
            list[Turn], Field(description="The new turns, oldest first: the user's and yours.")
        ],
        ctx: Context,
        conversation_first_message: FirstMessage = None,
        conversation_id: ConversationId = None,
        user_id: UserId = None,
        agent_id: AgentId = None,
        app_id: Annotated[str | None, Field(description="The app it happened in.")] = None,
        tags: Annotated[list[str] | None, Field(description="Labels for the memories.")] = None,
        info: Annotated[
            dict[str, Any] | None, Field(description="Free metadata, filterable in search.")
        ] = None,
    ) -> Annotated[CallToolResult, AddMessageData]:
        caller = await resolve(ctx)
        user = user_of(caller, user_id)
        conversation = conversation_of(user, conversation_id, conversation_first_message)
        if conversation is None:
            raise ToolError("give conversation_id or conversation_first_message")
        with as_tool_errors():
            body = AddMessageRequest.model_validate(
                {
                    "user_id": user,
                    "conversation_id": conversation,
                    "messages": [m.model_dump(exclude_none=True) for m in messages],
                    "agent_id": agent_id,
                    "app_id": app_id,
                    "tags": tags,
                    "info": info,
                }
            )
            data = await tools.add_message(caller, body)
        return answer(text.added_text(f"{len(messages)} message(s)", data), data)

    @server.tool(
        name="search_memory",
        description=SEARCH_MEMORY,
        annotations=ToolAnnotations(read_only_hint=True),
    )
    async def search_memory(
        query: Annotated[str, Field(description="The user's current message, or its gist.")],
        ctx: Context,
        conversation_first_message: FirstMessage = None,
        conversation_id: ConversationId = None,
        user_id: UserId = None,
        memory_limit_number: Annotated[int, Field(description="Facts to return (at most 25).")] = 6,
        include_preference: Annotated[bool, Field(description="Return preferences too.")] = True,
        preference_limit_number: Annotated[
            int, Field(description="Preferences to return (at most 25).")
        ] = 6,
        relativity: Annotated[
            float | None,
            Field(description="Minimum relevance 0..1 (0 keeps all; default: the service's)."),
        ] = None,
        filter: Annotated[
            dict[str, Any] | None,
            Field(
                description='Only memories matching this (the API\'s filter), e.g. {"and": '
                '[{"tags": {"contains": "travel"}}, {"create_time": {"gte": "2025-01-01"}}]}.'
            ),
        ] = None,
        agent_id: AgentId = None,
        knowledgebase_ids: Annotated[
            list[str] | None,
            Field(
                description='Knowledge bases to search too: their ids, or ["all"] when the user '
                "asks about the knowledge base without naming one; omit otherwise."
            ),
        ] = None,
    ) -> Annotated[CallToolResult, SearchMemoryData]:
        caller = await resolve(ctx)
        user = user_of(caller, user_id)
        with as_tool_errors():
            body = SearchMemoryRequest.model_validate(
                {
                    "user_id": user,
                    "query": query,
                    "conversation_id": conversation_of(
                        user, conversation_id, conversation_first_message
                    ),
                    "memory_limit_number": memory_limit_number,
                    "include_preference": include_preference,
                    "preference_limit_number": preference_limit_number,
                    "relativity": relativity,
                    "filter": filter,
                    "agent_id": agent_id,
                    "knowledgebase_ids": knowledgebase_ids,
                }
            )
            data = await tools.search_memory(caller, body)
        return answer(text.search_text(data), data)

    @server.tool(
        name="delete_memory",
        description=DELETE_MEMORY,
        annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=True),
    )
    async def delete_memory(
        memory_ids: Annotated[
            list[str], Field(description="The ids of the memories to delete (from search).")
        ],
        ctx: Context,
    ) -> Annotated[CallToolResult, DeleteMemoryData]:
        caller = await resolve(ctx)
        if not memory_ids:
            raise ToolError("memory_ids is empty: name the memories to delete")
        with as_tool_errors():
            body = DeleteMemoryRequest.model_validate({"memory_ids": memory_ids})
            data = await tools.delete_memory(caller, body)
        return answer(text.deleted_text(len(memory_ids), data), data)

    @server.tool(name="add_feedback", description=ADD_FEEDBACK)
    async def add_feedback(
        feedback_content: Annotated[
            str, Field(description="The user's correction, in their words, briefly.")
        ],
        ctx: Context,
        conversation_first_message: FirstMessage = None,
        conversation_id: ConversationId = None,
        user_id: UserId = None,
        agent_id: AgentId = None,
        app_id: Annotated[str | None, Field(description="The app it happened in.")] = None,
        feedback_time: Annotated[
            str | None, Field(description="When it was given (default: now).")
        ] = None,
        allow_knowledgebase_ids: Annotated[
            list[str] | None,
            Field(
                description="Knowledge bases the correction is written into too: anyone "
                "searching them then finds it. Only when the user corrects the project's "
                "documents, not their own facts."
            ),
        ] = None,
    ) -> Annotated[CallToolResult, AddMessageData]:
        caller = await resolve(ctx)
        user = user_of(caller, user_id)
        with as_tool_errors():
            body = AddFeedbackRequest.model_validate(
                {
                    "user_id": user,
                    "feedback_content": feedback_content,
                    "conversation_id": conversation_of(
                        user, conversation_id, conversation_first_message
                    ),
                    "agent_id": agent_id,
                    "app_id": app_id,
                    "feedback_time": feedback_time,
                    "allow_knowledgebase_ids": allow_knowledgebase_ids or [],
                }
            )
            data = await tools.feedback(caller, body)
        return answer(text.added_text("Feedback", data), data)

    @server.tool(
        name="get_user_profile",
        description=GET_USER_PROFILE,
        annotations=ToolAnnotations(read_only_hint=True),
    )
    async def get_user_profile(
        ctx: Context,
        user_id: UserId = None,
        include_preference: Annotated[bool, Field(description="List preferences too.")] = True,
        current: Annotated[int, Field(description="Page number, from 1.")] = 1,
        size: Annotated[int, Field(description="Memories per page (at most 50).")] = 20,
    ) -> Annotated[CallToolResult, GetMemoryData]:
        caller = await resolve(ctx)
        user = user_of(caller, user_id)
        with as_tool_errors():
            body = GetMemoryRequest.model_validate(
                {
                    "user_id": user,
                    "include_preference": include_preference,
                    "page": current,
                    "size": size,
                }
            )
            data = await tools.user_profile(caller, body)
        return answer(text.profile_text(user, data), data)

    add_knowledge_tools(server, resolve)
    return server
