"""Tasks: one per add-like request (add/message, add/feedback), and get/status on them."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.errors import IdempotencyKeyReused, NotFound
from memos_server.storage.database import Database
from memos_server.storage.models import Task
from memos_server.storage.repositories.tasks import TaskRepository
from memos_server.storage.vocabulary import HistoryEvent, TaskStatus


class TaskKind(StrEnum):
    """The add-like requests that open a task; an ``Idempotency-Key`` is scoped to one."""

    ADD_MESSAGE = "add_message"
    ADD_FEEDBACK = "add_feedback"
    ADD_KNOWLEDGEBASE_FILE = "add_knowledgebase_file"

    @property
    def endpoint(self) -> str:
        return self.value.replace("_", "/", 1).replace("_", "-")


@dataclass(frozen=True)
class Added:
    task: Task
    created: bool  # False: a repeat of an earlier request, nothing stored


@dataclass(frozen=True)
class Request:
    """What tells an add-like request from any other: its kind, a digest of everything it
    stores (``fingerprint``) and the client's ``Idempotency-Key``, if any."""

    kind: TaskKind
    user_id: str
    conversation_id: str
    fingerprint: str
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Keeps:
    """What a new task keeps for its fine job: the knowledge bases its memories go into too
    (``allow_knowledgebase_ids``) and add/message's ``allow_memory_view`` (None: the
    defaults). Set on the task's INSERT, not written after it."""

    knowledgebase_ids: tuple[uuid.UUID, ...] = ()
    memory_views: list[str] | None = None


async def find_keyed(session: AsyncSession, project_id: uuid.UUID, request: Request) -> Task | None:
    """The task of the request's ``Idempotency-Key`` on the same endpoint of the project, if
    any. A key that came with a different request is refused: answering that request's task
    would silently drop this one."""
    if request.idempotency_key is None:
        return None
    keyed = await TaskRepository(session).by_key(project_id, request.kind, request.idempotency_key)
    # A task whose memories were all deleted forgot its fingerprint: its key still answers it
    # (a retry), with nothing left to compare.
    if keyed is not None and keyed.fingerprint not in (None, request.fingerprint):
        raise IdempotencyKeyReused(request.kind.endpoint)
    return keyed


@dataclass(frozen=True)
class Lookup:
    """What an add learns before its costly work: the earlier task it repeats (the task of its
    key, else one with the same fingerprint within the dedupe window), and else its project's
    own TTL (``services.retention.add_expiry``)."""

    repeat: Added | None
    ttl_days: int | None = None


async def find_repeat(
    session: AsyncSession, project_id: uuid.UUID, request: Request, dedupe_window_s: float
) -> Lookup:
    """The first task of a repeated request, recognised before any costly work (embedding),
    with the project's TTL in the same round trip.

    When there is none, the look-up's transaction (it only read) is ended, so that no
    connection is held while the model works; ``open_task`` looks again under the lock.
    Begun outside a transaction, the look-up runs without one: it only reads, and needs no
    BEGIN and ROLLBACK round trips around it."""
    if not session.in_transaction():
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    keyed = await find_keyed(session, project_id, request)
    if keyed is not None:
        return Lookup(Added(keyed, created=False))
    found = await TaskRepository(session).twin_and_ttl(
        project_id, request.kind, request.fingerprint, dedupe_window_s
    )
    if found.twin is not None:
        return Lookup(Added(found.twin, created=False))
    await session.rollback()
    return Lookup(None, found.ttl_days)


async def open_task(
    session: AsyncSession,
    project_id: uuid.UUID,
    request: Request,
    *,
    running: bool,
    dedupe_window_s: float,
    expires_at: datetime | None = None,
    keeps: Keeps = Keeps(),
) -> Added:
    """A new task for the request, or the earlier task of the same request (its key's, else one
    with its fingerprint within ``dedupe_window_s``) if one was stored meanwhile.

    Requests with the same fingerprint, or the same key, are serialised by advisory locks on
    both until the transaction ends, so identical requests arriving together, with a key or
    without, are stored once, and a key is never given to two tasks. Under the locks, the
    look-up of a twin and the new task's INSERT are one statement
    (``TaskRepository.twin_or_insert``); a request with a key looks its key up first.
    ``expires_at``: when the memories the request makes expire (its fine job reads it from the
    task); ``keeps``: the rest the fine job reads from it."""
    tasks = TaskRepository(session)
    names = [f"fingerprint:{request.kind}:{request.fingerprint}"]
    if request.idempotency_key is not None:
        names.append(f"key:{request.kind}:{request.idempotency_key}")
    await tasks.lock_for_add(project_id, names, request.user_id)
    keyed = await find_keyed(session, project_id, request)
    if keyed is not None:
        return Added(keyed, created=False)
    task, created = await tasks.twin_or_insert(
        dict(
            id=uuid.uuid4(),
            project_id=project_id,
            kind=str(request.kind),
            user_id=request.user_id,
            conversation_id=request.conversation_id,
            status=TaskStatus.RUNNING if running else TaskStatus.COMPLETED,
            error=None,
            llm_calls=0,
            prompt_tokens=0,
            completion_tokens=0,
            idempotency_key=request.idempotency_key,
            fingerprint=request.fingerprint,
            expires_at=expires_at,
            knowledgebase_ids=list(keeps.knowledgebase_ids),
            memory_views=keeps.memory_views,
        ),
        dedupe_window_s,
    )
    return Added(task, created=created)


async def get_task(session: AsyncSession, project_id: uuid.UUID, task_id: str) -> Task:
    try:
        parsed = uuid.UUID(task_id)
    except ValueError:
        raise NotFound(f"task {task_id!r} not found") from None
    task = await TaskRepository(session).get(project_id, parsed)
    if task is None:
        raise NotFound(f"task {task_id!r} not found")
    return task


@dataclass(frozen=True)
class MemoryChanges:
    """The memories a task left added, updated and deleted, by id, oldest change first.

    Net of the task itself: a memory it added and later took back (a fast window its own fine
    job archived) is in none of the lists; one it added and then rewrote is only added; updated
    and deleted name memories that were there before it."""

    added: list[uuid.UUID]
    updated: list[uuid.UUID]
    deleted: list[uuid.UUID]


def net_changes(events: list[tuple[uuid.UUID, str]]) -> MemoryChanges:
    added: dict[uuid.UUID, None] = {}
    updated: dict[uuid.UUID, None] = {}
    deleted: dict[uuid.UUID, None] = {}
    for memory_id, event in events:
        if event == HistoryEvent.ADD:
            added[memory_id] = None
        elif event == HistoryEvent.UPDATE:
            if memory_id not in added:
                updated[memory_id] = None
        elif memory_id in added:  # ARCHIVE or DELETE of its own addition
            del added[memory_id]
        else:
            updated.pop(memory_id, None)
            deleted[memory_id] = None
    return MemoryChanges(list(added), list(updated), list(deleted))


async def memory_changes(
    session: AsyncSession, project_id: uuid.UUID, task_id: uuid.UUID
) -> MemoryChanges:
    """What the task has done to memories so far (a running task's fast memories, a finished
    one's fine memories), read from the history rows it wrote."""
    return net_changes(await TaskRepository(session).memory_events(project_id, task_id))


POLL_S = 0.1


async def wait_for_task(database: Database, task_id: uuid.UUID, timeout_s: float) -> Task:
    """The task once it is no longer running, or as it is when ``timeout_s`` runs out.

    Polls the database, so it works whichever process (this one or a worker elsewhere) runs the
    job.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        async with database.session() as session:
            task = await TaskRepository(session).get_by_id(task_id)
        if task is None:
            raise NotFound(f"task {task_id} was deleted meanwhile (delete/user or delete/message)")
        if task.status != TaskStatus.RUNNING or time.monotonic() >= deadline:
            return task
        await asyncio.sleep(POLL_S)
