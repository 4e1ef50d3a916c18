"""add/message: keep the raw messages, then turn them into memories.

This is the fast path (no LLM): each window of raw turns becomes one fact memory holding the turns
verbatim. The messages, their memories, the ADD history rows and the task are written in one
transaction, so an add is stored whole or not at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.embedding import Embedder
from memos_server.services.limits import check_ids, check_messages
from memos_server.services.windows import Turn, build_windows
from memos_server.settings import Settings
from memos_server.storage.models import Memory, MemoryHistory, Message, Task
from memos_server.storage.repositories.memories import MemoryRepository
from memos_server.storage.repositories.messages import MessageRepository
from memos_server.storage.repositories.tasks import TaskRepository

FAST_TAG = "mode:fast"


@dataclass(frozen=True)
class IncomingMessage:
    role: str
    text: str
    parts: list[dict[str, Any]] | None = None
    chat_time: datetime | None = None
    tool_call_id: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class AddMessages:
    user_id: str
    conversation_id: str
    messages: list[IncomingMessage]
    agent_id: str | None = None
    app_id: str | None = None
    tags: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


async def add_messages(
    session: AsyncSession,
    embedder: Embedder,
    settings: Settings,
    project_id: uuid.UUID,
    request: AddMessages,
    *,
    refine: bool = False,
) -> Task:
    """Store the messages and their fast memories; the task stays running when ``refine``."""
    check_ids(settings.limits, request.user_id, request.conversation_id)
    check_messages(settings.limits, [m.text for m in request.messages])

    windows = build_windows(
        [Turn(i, m.role, m.text, m.chat_time) for i, m in enumerate(request.messages)],
        max_turns=settings.fast.window_turns,
        max_tokens=min(settings.fast.window_tokens, embedder.max_tokens),
        count_tokens=embedder.count_tokens,
    )
    # Embed before touching the database, so no connection is held while the model works.
    vectors = await embedder.embed([window.text for window in windows])

    task = await TaskRepository(session).add(
        Task(
            id=uuid.uuid4(),
            project_id=project_id,
            kind="add_message",
            user_id=request.user_id,
            conversation_id=request.conversation_id,
            status="running" if refine else "completed",
        )
    )
    rows = [
        Message(
            project_id=project_id,
            user_id=request.user_id,
            conversation_id=request.conversation_id,
            agent_id=request.agent_id,
            app_id=request.app_id,
            task_id=task.id,
            role=m.role,
            content=m.text,
            content_parts=m.parts,
            tool_call_id=m.tool_call_id,
            tool_calls=m.tool_calls,
            chat_time=m.chat_time,
            tags=list(request.tags),
            info=dict(request.info),
        )
        for m in request.messages
    ]
    await MessageRepository(session).add_all(rows)

    memories: list[Memory] = []
    history: list[MemoryHistory] = []
    for window, vector in zip(windows, vectors, strict=True):
        source_ids = [rows[i].id for i in window.message_indexes]
        memory = Memory(
            id=uuid.uuid4(),
            project_id=project_id,
            user_id=request.user_id,
            conversation_id=request.conversation_id,
            agent_id=request.agent_id,
            app_id=request.app_id,
            task_id=task.id,
            kind="fact",
            mode="fast",
            memory_key=window.key,
            memory_value=window.text,
            memory_type=window.memory_type,
            tags=[FAST_TAG, *request.tags],
            memory_time=window.time,
            confidence=1.0,
            status="activated",
            embedding=vector,
            source_message_ids=source_ids,
            info=dict(request.info),
        )
        memories.append(memory)
        history.append(
            MemoryHistory(
                memory_id=memory.id,
                project_id=project_id,
                event="ADD",
                new_value=window.text,
                source_message_ids=source_ids,
                task_id=task.id,
            )
        )
    await MemoryRepository(session).add_all(memories, history)
    return task
