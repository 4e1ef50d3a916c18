"""add/message: keep the raw messages, then turn them into memories.

The fast path (no LLM) runs here: each window of raw turns becomes one fact memory holding the
turns verbatim, and each tool call with its result one tool memory (``tool_trajectories``), as
far as the add's ``allow_memory_view`` allows (``memory_views``). An add with
``is_upload_skill`` stores its messages as skills (``skills``) and nothing else. The messages,
their memories, the ADD history rows, the task and (with an LLM) the fine-extraction job are
written in one transaction, so an add is stored whole or not at all.
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
from memos_server.services.fast_windows import fast_windows
from memos_server.services.intake import Intake
from memos_server.services.limits import (
    check_ids,
    check_messages,
    check_metadata,
    check_speakers,
    check_tool_calls,
)
from memos_server.services.memory_views import (
    SKILL_TYPE,
    TOOL_TRAJECTORY_TYPE,
    MemoryView,
    add_views,
    parse_views,
    stored_views,
)
from memos_server.services.memory_writer import MemoryText, new_memory_values
from memos_server.services.retention import requested_expiry
from memos_server.services.skills import Skill, skills_of
from memos_server.services.tasks import Added, Keeps, TaskKind
from memos_server.services.tool_trajectories import Trajectory, trajectories
from memos_server.storage.models import Task
from memos_server.storage.repositories.added_rows import insert_memories, insert_messages
from memos_server.storage.repositories.tasks import TaskRepository
from memos_server.storage.vocabulary import MemoryKind, MemoryMode
from memos_server.text.windows import Window, speaker_of

FAST_TAG = "mode:fast"


@dataclass(frozen=True)
class IncomingMessage:
    role: str
    text: str
    parts: list[dict[str, Any]] | None = None
    chat_time: datetime | None = None
    tool_call_id: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    # Group chat: who sent it (a user of the add, or its agent) and their name.
    role_id: str | None = None
    role_name: str | None = None

    @property
    def speaker(self) -> str | None:
        return speaker_of(self.role_name, self.role_id)


@dataclass(frozen=True)
class AddMessages:
    user_id: str  # the first user of a group add: its task is theirs
    conversation_id: str
    messages: list[IncomingMessage]
    agent_id: str | None = None
    app_id: str | None = None
    tags: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    # allow_knowledgebase_ids, checked: the add's memories are shared into these bases.
    knowledgebase_ids: tuple[uuid.UUID, ...] = ()
    # The channel the messages came from, as the client names it (kept on each message).
    source: str | None = None
    # A group chat (user_id given as a list): every user named, ``user_id`` first. Each gets a
    # copy of the messages and the fast memories of every window (docs/group_chat.md).
    group: tuple[str, ...] = ()
    # allow_memory_view as sent (None: the defaults); checked by ``MessageIntake.check``.
    memory_views: tuple[str, ...] | None = None
    # is_upload_skill: every message is a skill file (``services.skills``).
    upload_skill: bool = False

    @property
    def users(self) -> tuple[str, ...]:
        """Whom the add is stored for."""
        return self.group or (self.user_id,)

    @property
    def views(self) -> frozenset[MemoryView]:
        return add_views(self.memory_views)


# A memory an add makes, before its user and vector: kind, memory_type, text, the kind's
# fields, the indexes of its messages, its time.
_Made = tuple[MemoryKind, str, MemoryText, dict[str, Any] | None, Sequence[int], datetime | None]


@dataclass(frozen=True)
class Prepared:
    """An add's texts made ready: fact windows, tool trajectories, skills (each with its
    search text), embedded in that order."""

    windows: list[tuple[Window, MemoryText]] = field(default_factory=list)
    tools: list[tuple[Trajectory, MemoryText]] = field(default_factory=list)
    skills: list[tuple[Skill, MemoryText]] = field(default_factory=list)


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
            # Only when set, so an add without them keeps the fingerprint it always had.
            *(
                [sorted(str(b) for b in request.knowledgebase_ids)]
                if request.knowledgebase_ids
                else []
            ),
            *([{"source": request.source}] if request.source is not None else []),
            *([["group", *request.group]] if request.group else []),
            *(
                [[[m.role_id, m.role_name] for m in request.messages]]
                if any(m.role_id or m.role_name for m in request.messages)
                else []
            ),
            *([sorted(request.memory_views)] if request.memory_views is not None else []),
            *(["upload_skill"] if request.upload_skill else []),
        ],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class MessageIntake(Intake[AddMessages, Prepared]):
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
            source=request.source,
        )
        check_metadata(limits, request.tags, request.info)
        check_messages(limits, [m.text for m in request.messages])
        check_tool_calls(limits, [(m.tool_call_id, m.tool_calls) for m in request.messages])
        check_speakers(limits, request.users, [(m.role_id, m.role_name) for m in request.messages])
        requested_expiry(request.info, self.settings.retention)  # refused before any work
        parse_views("allow_memory_view", request.memory_views)

    def refines(self, request: AddMessages) -> bool:
        """Fine extraction only for an add that may produce a kind a model makes."""
        fine_views = {MemoryView.DETAIL_FACTUAL, MemoryView.PREFERENCE, MemoryView.EVENT}
        return not request.upload_skill and bool(request.views & fine_views)

    def info(self, request: AddMessages) -> Mapping[str, Any]:
        return request.info

    def identity(self, request: AddMessages) -> tuple[str, str, str]:
        return request.user_id, request.conversation_id, fingerprint(request)

    def prepare(self, request: AddMessages, embedder: Embedder) -> Prepared:
        # Tokenizing, cutting and segmenting: half a second for a 32,000-character message.
        if request.upload_skill:
            found = skills_of([(m.text, m.parts) for m in request.messages], self.settings.limits)
            return Prepared(skills=[(s, MemoryText(s.name, s.markdown)) for s in found])
        views = request.views
        windows: list[Window] = []
        if MemoryView.DETAIL_FACTUAL in views:
            turns = [(m.role, m.text, m.chat_time) for m in request.messages]
            windows = fast_windows(
                self.settings, embedder, turns, [m.speaker for m in request.messages]
            )
        tools = trajectories(request.messages) if MemoryView.TOOL_MEMORY in views else []
        return Prepared(
            windows=[(w, MemoryText(w.key, w.text)) for w in windows],
            tools=[(t, MemoryText(t.key, t.value)) for t in tools],
        )

    def keeps(self, request: AddMessages) -> Keeps:
        views = stored_views(parse_views("allow_memory_view", request.memory_views))
        return Keeps(tuple(request.knowledgebase_ids), views)

    def texts(self, prepared: Prepared) -> list[str]:
        return [
            *(text.value for _, text in prepared.windows),
            *(text.value for _, text in prepared.tools),
            *(text.value for _, text in prepared.skills),
        ]

    async def store(
        self,
        session: AsyncSession,
        *,
        project_id: uuid.UUID,
        task: Task,
        request: AddMessages,
        prepared: Prepared,
        vectors: Sequence[list[float]],
        expires_at: datetime | None,
    ) -> None:
        # A group add: every user gets the conversation and the memory of every window, under
        # their own user_id (the same vectors: the text is the same).
        tasks = TaskRepository(session)
        for user_id in request.users:
            if user_id != request.user_id:  # the task's own user is locked by open_task
                # As for the first: no delete/user of theirs half before and half after this add.
                await tasks.lock_user(project_id, user_id, exclusive=False)
            ids = await insert_messages(
                session, project_id, self._messages(project_id, task, request, user_id)
            )
            await insert_memories(
                session, self._memories(task, request, user_id, prepared, vectors, ids, expires_at)
            )

    @staticmethod
    def _messages(
        project_id: uuid.UUID, task: Task, request: AddMessages, user_id: str
    ) -> list[dict[str, Any]]:
        """One user's messages of the add, as column values."""
        return [
            dict(
                project_id=project_id,
                user_id=user_id,
                conversation_id=request.conversation_id,
                agent_id=request.agent_id,
                app_id=request.app_id,
                task_id=task.id,
                role=m.role,
                role_id=m.role_id,
                role_name=m.role_name,
                content=m.text,
                content_parts=m.parts,
                tool_call_id=m.tool_call_id,
                tool_calls=m.tool_calls,
                chat_time=m.chat_time,
                tags=list(request.tags),
                info=dict(request.info),
                source=request.source,
            )
            for m in request.messages
        ]

    @staticmethod
    def _memories(
        task: Task,
        request: AddMessages,
        user_id: str,
        prepared: Prepared,
        vectors: Sequence[list[float]],
        message_ids: Sequence[int],
        expires_at: datetime | None,
    ) -> list[dict[str, Any]]:
        """One user's memories of the add: a fact per window, a tool memory per trajectory, a
        skill per skill file, in the order ``texts`` gave them to the embedder."""
        # A group's memories are the same text for every user: shared into the bases once.
        bases = request.knowledgebase_ids if user_id == request.user_id else ()
        made: list[
            tuple[
                MemoryKind, str, MemoryText, dict[str, Any] | None, Sequence[int], datetime | None
            ]
        ] = [
            (MemoryKind.FACT, window.memory_type, text, None, window.message_indexes, window.time)
            for window, text in prepared.windows
        ]
        made += [
            (
                MemoryKind.TOOL,
                TOOL_TRAJECTORY_TYPE,
                text,
                t.details(),
                t.message_indexes,
                request.messages[t.message_indexes[0]].chat_time,
            )
            for t, text in prepared.tools
        ]
        made += [
            (
                MemoryKind.SKILL,
                SKILL_TYPE,
                text,
                s.details(),
                (s.message_index,),
                request.messages[s.message_index].chat_time,
            )
            for s, text in prepared.skills
        ]
        return [
            new_memory_values(
                text=text,
                project_id=task.project_id,
                user_id=user_id,
                conversation_id=request.conversation_id,
                agent_id=request.agent_id,
                app_id=request.app_id,
                task_id=task.id,
                kind=kind,
                mode=MemoryMode.FAST,
                memory_type=memory_type,
                tags=[FAST_TAG, *request.tags] if kind == MemoryKind.FACT else list(request.tags),
                memory_time=time,
                embedding=vector,
                source_message_ids=[message_ids[i] for i in indexes],
                info=dict(request.info),
                details=details,
                knowledgebase_ids=bases,
                expires_at=expires_at,
            )
            for (kind, memory_type, text, details, indexes, time), vector in zip(
                made, vectors, strict=True
            )
        ]
