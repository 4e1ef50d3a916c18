"""add/message: keep the raw messages, then turn them into memories.

The fast path (no LLM) runs here: each window of raw turns becomes one fact memory holding the
turns verbatim. The messages, their memories, the ADD history rows, the task and (with an LLM) the
fine-extraction job are written in one transaction, so an add is stored whole or not at all.

An add is stored once however often it is sent: a repeated ``Idempotency-Key``, or the same
request (its fingerprint) within ``dedupe_window_s``, answers the first add's task and stores
nothing new; a key sent again with a different request is refused. The repeat is recognised
before any costly work: the look-up comes first, the embedding only for a new add, and the
writes last, in one short transaction that looks again under advisory locks (see
``services.tasks``), so identical adds arriving together, keyed or not, are stored once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.embedding import Embedder
from memos_server.services.injected import strip_injected
from memos_server.services.language import detect_language
from memos_server.services.limits import check_ids, check_messages, check_metadata
from memos_server.services.memory_writer import MemoryText, added_row, new_memory
from memos_server.services.tasks import Added, Request, TaskKind, find_repeat, open_task
from memos_server.services.windows import Turn, Window, build_windows
from memos_server.settings import Settings
from memos_server.storage.models import Memory, MemoryHistory, Message
from memos_server.storage.repositories.jobs import JobRepository
from memos_server.storage.repositories.memories import MemoryRepository
from memos_server.storage.repositories.messages import MessageRepository
from memos_server.storage.vocabulary import MemoryKind, MemoryMode

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


def fast_windows(
    settings: Settings, embedder: Embedder, messages: Sequence[tuple[str, str, datetime | None]]
) -> list[Window]:
    """The windows fast mode makes of messages (role, text, time): what an add stores without an
    LLM. Text a runtime injected (recalled memories, reasoning) is left out first. CPU work: call
    it off the event loop."""
    turns = [
        Turn(i, role, strip_injected(text), chat_time)
        for i, (role, text, chat_time) in enumerate(messages)
    ]
    chinese = detect_language(t.text for t in turns) == "zh"
    return build_windows(
        turns,
        max_turns=settings.fast.window_turns_zh if chinese else settings.fast.window_turns,
        max_tokens=min(settings.fast.window_tokens, embedder.max_tokens),
        count_tokens=embedder.count_tokens,
    )


def fingerprint(request: AddMessages) -> str:
    """What makes two adds the same add: everything an add stores (who, where, its metadata,
    and every message as sent, with its time)."""
    canonical = json.dumps(
        [
            request.user_id,
            request.conversation_id,
            request.agent_id,
            request.app_id,
            request.tags,
            request.info,
            [
                [
                    m.role,
                    m.parts if m.parts is not None else m.text,
                    m.chat_time.isoformat() if m.chat_time else None,
                    m.tool_call_id,
                    m.tool_calls,
                ]
                for m in request.messages
            ],
        ],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def add_messages(
    session: AsyncSession,
    embedder: Embedder,
    settings: Settings,
    project_id: uuid.UUID,
    request: AddMessages,
    *,
    refine: bool = False,
    idempotency_key: str | None = None,
) -> Added:
    """Store the messages and their fast memories, and queue fine extraction when ``refine``."""
    check_ids(
        settings.limits,
        request.user_id,
        request.conversation_id,
        agent_id=request.agent_id,
        app_id=request.app_id,
    )
    check_metadata(settings.limits, request.tags, request.info)
    check_messages(settings.limits, [m.text for m in request.messages])
    identity = Request(
        kind=TaskKind.ADD_MESSAGE,
        user_id=request.user_id,
        conversation_id=request.conversation_id,
        fingerprint=fingerprint(request),
        idempotency_key=idempotency_key,
    )
    window_s = settings.ingest.dedupe_window_s
    # A repeat is recognised before any expensive work (find_repeat ends its transaction).
    repeat = await find_repeat(session, project_id, identity, window_s)
    if repeat is not None:
        return repeat

    def prepare() -> list[tuple[Window, MemoryText]]:
        turns = [(m.role, m.text, m.chat_time) for m in request.messages]
        return [(w, MemoryText(w.key, w.text)) for w in fast_windows(settings, embedder, turns)]

    # Tokenizing, cutting and segmenting are CPU work (half a second for a 32,000-character
    # message): off the event loop, which meanwhile serves every other request.
    windows = await asyncio.to_thread(prepare)
    # Embed before touching the database again, so no connection is held while the model works.
    vectors = await embedder.embed([window.text for window, _ in windows])

    added = await open_task(session, project_id, identity, running=refine, dedupe_window_s=window_s)
    if not added.created:
        return added
    task = added.task
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
    for (window, text), vector in zip(windows, vectors, strict=True):
        memory = new_memory(
            text=text,
            project_id=project_id,
            user_id=request.user_id,
            conversation_id=request.conversation_id,
            agent_id=request.agent_id,
            app_id=request.app_id,
            task_id=task.id,
            kind=MemoryKind.FACT,
            mode=MemoryMode.FAST,
            memory_type=window.memory_type,
            tags=[FAST_TAG, *request.tags],
            memory_time=window.time,
            embedding=vector,
            source_message_ids=[rows[i].id for i in window.message_indexes],
            info=dict(request.info),
        )
        memories.append(memory)
        history.append(added_row(memory))
    await MemoryRepository(session).add_all(memories, history)
    if refine:
        await JobRepository(session).enqueue(
            task.id, project_id, request.user_id, settings.jobs.max_attempts
        )
    return added
