"""add/message: keep the raw messages, then turn them into memories.

The fast path (no LLM) runs here: each window of raw turns becomes one fact memory holding the
turns verbatim. The messages, their memories, the ADD history rows, the task and (with an LLM) the
fine-extraction job are written in one transaction, so an add is stored whole or not at all.
``MessageIntake`` is add/message's kind of the add-like intake (``services.intake``).

An add is stored once however often it is sent: a repeated ``Idempotency-Key``, or the same
request (its fingerprint) within ``dedupe_window_s``, answers the first add's task and stores
nothing new; a key sent again with a different request is refused. The repeat is recognised
before any costly work: the look-up comes first, the embedding only for a new add, and the
writes last, in one short transaction that looks again under advisory locks (see
``services.tasks``), so identical adds arriving together, keyed or not, are stored once.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.embedding import Embedder
from memos_server.services.injected import strip_injected
from memos_server.services.intake import Intake
from memos_server.services.limits import check_ids, check_messages, check_metadata
from memos_server.services.memory_writer import MemoryText, added_row, new_memory
from memos_server.services.retention import requested_expiry
from memos_server.services.tasks import Added, TaskKind
from memos_server.settings import Settings
from memos_server.storage.models import Memory, MemoryHistory, Message, Task
from memos_server.storage.repositories.memories import MemoryRepository
from memos_server.storage.repositories.messages import MessageRepository
from memos_server.storage.vocabulary import MemoryKind, MemoryMode
from memos_server.text.language import detect_language
from memos_server.text.windows import Turn, Window, build_windows

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
    # allow_knowledgebase_ids, checked: the add's memories are shared into these bases.
    knowledgebase_ids: tuple[uuid.UUID, ...] = ()


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
    max_turns = settings.fast.window_turns_zh if chinese else settings.fast.window_turns
    max_tokens = min(settings.fast.window_tokens, embedder.max_tokens)
    windows = build_windows(
        turns, max_turns=max_turns, max_tokens=max_tokens, count_tokens=embedder.count_tokens
    )
    if chinese or not settings.fast.window_overlap or max_turns < 2:
        return windows
    # A second tiling started half a window later: the turns on either side of every boundary of
    # the first also stand together in one memory. A window whose turns all stand in one window of
    # the first tiling (a session's last turns, a long turn's parts) adds nothing and is left out.
    first = [set(w.message_indexes) for w in windows]
    for window in build_windows(
        turns,
        max_turns=max_turns,
        max_tokens=max_tokens,
        count_tokens=embedder.count_tokens,
        skip=max_turns // 2,
    ):
        if not any(set(window.message_indexes) <= held for held in first):
            windows.append(window)
    return windows


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
            # Only when set, so an add without it keeps the fingerprint it always had.
            *(
                [sorted(str(b) for b in request.knowledgebase_ids)]
                if request.knowledgebase_ids
                else []
            ),
        ],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class MessageIntake(Intake[AddMessages, list[tuple[Window, MemoryText]]]):
    """add/message (and the turn chat stores): the messages and their fast memories; in fine
    mode, a ``refine`` job."""

    kind = TaskKind.ADD_MESSAGE
    job = "refine"

    async def add(
        self,
        session: AsyncSession,
        *,
        project_id: uuid.UUID,
        request: AddMessages,
        idempotency_key: str | None = None,
    ) -> Added:
        """Store the messages and their fast memories, and queue fine extraction in fine mode."""
        return await self.take(
            session, project_id=project_id, request=request, idempotency_key=idempotency_key
        )

    def check(self, request: AddMessages) -> None:
        limits = self.settings.limits
        check_ids(
            limits,
            request.user_id,
            request.conversation_id,
            agent_id=request.agent_id,
            app_id=request.app_id,
        )
        check_metadata(limits, request.tags, request.info)
        check_messages(limits, [m.text for m in request.messages])
        requested_expiry(request.info, self.settings.retention)  # refused before any work

    def info(self, request: AddMessages) -> Mapping[str, Any]:
        return request.info

    def identity(self, request: AddMessages) -> tuple[str, str, str]:
        return request.user_id, request.conversation_id, fingerprint(request)

    def prepare(self, request: AddMessages, embedder: Embedder) -> list[tuple[Window, MemoryText]]:
        # Tokenizing, cutting and segmenting: half a second for a 32,000-character message.
        turns = [(m.role, m.text, m.chat_time) for m in request.messages]
        windows = fast_windows(self.settings, embedder, turns)
        return [(w, MemoryText(w.key, w.text)) for w in windows]

    def texts(self, prepared: list[tuple[Window, MemoryText]]) -> list[str]:
        return [window.text for window, _ in prepared]

    async def store(
        self,
        session: AsyncSession,
        *,
        project_id: uuid.UUID,
        task: Task,
        request: AddMessages,
        prepared: list[tuple[Window, MemoryText]],
        vectors: Sequence[list[float]],
        expires_at: datetime | None,
    ) -> None:
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
        task.knowledgebase_ids = list(request.knowledgebase_ids)  # for the fine job's memories

        memories: list[Memory] = []
        history: list[MemoryHistory] = []
        for (window, text), vector in zip(prepared, vectors, strict=True):
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
                knowledgebase_ids=request.knowledgebase_ids,
                expires_at=expires_at,
            )
            memories.append(memory)
            history.append(added_row(memory))
        await MemoryRepository(session).add_all(memories, history)
