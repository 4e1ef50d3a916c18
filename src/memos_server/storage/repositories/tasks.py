"""Tasks: one per add, reported by /get/status."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Interval, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.driver_sql import (
    DriverStatement,
    column_binds,
    driver_rows,
    driver_statement,
)
from memos_server.storage.models import MemoryHistory, Task

# Every add looks for its twin twice (before the embedding and under its locks) and writes its
# task: on the driver (``storage.driver_sql``), each built once. A task found or written this
# way is a plain ``Task`` (not in the session): the add reads it, never changes it.
_TWIN = driver_statement(
    select(Task)
    .where(
        Task.project_id == bindparam("project_id"),
        Task.fingerprint == bindparam("fingerprint"),
        Task.kind == bindparam("kind"),
        Task.created_at > func.now() - bindparam("window", type_=Interval),
    )
    .order_by(Task.created_at)
    .limit(1)
)


class TaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, task: Task) -> Task:
        self.session.add(task)
        await self.session.flush()
        return task

    async def lock_for_add(self, project_id: uuid.UUID, names: Sequence[str], user_id: str) -> None:
        """Serialise adds that share any of these names (in the project) until this
        transaction ends, then take the user's lock shared (``lock_user``): one round trip.
        The named locks are taken in one global order (Postgres evaluates a SELECT list left
        to right), so two adds each holding one of them never wait for each other."""
        named = sorted({_lock_id(f"{project_id}:{name}") for name in names})
        locks = [func.pg_advisory_xact_lock(lock) for lock in named]
        user = func.pg_advisory_xact_lock_shared(_user_lock(project_id, user_id))
        await self.session.execute(select(*locks, user))

    async def lock_user(self, project_id: uuid.UUID, user_id: str, *, exclusive: bool) -> None:
        """Until this transaction ends: adds of the user take this shared (they never wait for
        each other), forgetting the user takes it exclusive, so no add is stored half before
        and half after the deletion."""
        lock = _user_lock(project_id, user_id)
        take = func.pg_advisory_xact_lock if exclusive else func.pg_advisory_xact_lock_shared
        await self.session.execute(select(take(lock)))

    async def by_key(self, project_id: uuid.UUID, kind: str, key: str) -> Task | None:
        """The task an ``Idempotency-Key`` opened on this endpoint (``kind``) of the project."""
        result = await self.session.execute(
            select(Task).where(
                Task.project_id == project_id, Task.kind == kind, Task.idempotency_key == key
            )
        )
        return result.scalar_one_or_none()

    async def recent_twin(
        self, project_id: uuid.UUID, kind: str, fingerprint: str, window_s: float
    ) -> Task | None:
        """The first task of the same fingerprint opened within the last ``window_s``."""
        if window_s <= 0:
            return None
        rows = await driver_rows(
            self.session,
            _TWIN,
            {
                "project_id": project_id,
                "fingerprint": fingerprint,
                "kind": str(kind),
                "window": timedelta(seconds=window_s),
            },
        )
        return Task(**dict(rows[0])) if rows else None

    async def insert(self, values: dict[str, Any]) -> Task:
        """Write a new task of these column values (every column with a default given); it
        comes back with the times the server gave it."""
        [times] = await driver_rows(
            self.session, _insert_statement(tuple(values)), values, writes=True
        )
        return Task(**values, **dict(times))

    async def get_by_id(self, task_id: uuid.UUID) -> Task | None:
        return await self.session.get(Task, task_id)

    async def finish(
        self,
        task_id: uuid.UUID,
        *,
        status: str,
        error: str | None,
        llm_calls: int,
        prompt_tokens: int,
        completion_tokens: int,
    ) -> Task:
        result = await self.session.execute(
            update(Task)
            .where(Task.id == task_id)
            .values(
                status=status,
                error=error,
                llm_calls=Task.llm_calls + llm_calls,
                prompt_tokens=Task.prompt_tokens + prompt_tokens,
                completion_tokens=Task.completion_tokens + completion_tokens,
                updated_at=func.now(),
            )
            .returning(Task)
        )
        return result.scalar_one()

    async def get(self, project_id: uuid.UUID, task_id: uuid.UUID) -> Task | None:
        result = await self.session.execute(
            select(Task).where(Task.id == task_id, Task.project_id == project_id)
        )
        return result.scalar_one_or_none()

    async def memory_events(
        self, project_id: uuid.UUID, task_id: uuid.UUID
    ) -> list[tuple[uuid.UUID, str]]:
        """What the task did to memories, in order: (memory id, ``HistoryEvent``) per history
        row it wrote (through ``ix_memory_history_task``)."""
        result = await self.session.execute(
            select(MemoryHistory.memory_id, MemoryHistory.event)
            .where(MemoryHistory.task_id == task_id, MemoryHistory.project_id == project_id)
            .order_by(MemoryHistory.id)
        )
        return [(row[0], row[1]) for row in result.all()]


@lru_cache(maxsize=4)
def _insert_statement(columns: tuple[str, ...]) -> DriverStatement:
    return driver_statement(
        insert(Task)
        .values(column_binds(Task.__table__, columns))
        .returning(Task.created_at, Task.updated_at)
    )


def _user_lock(project_id: uuid.UUID, user_id: str) -> int:
    return _lock_id(f"{project_id}:user:{user_id}")


def _lock_id(name: str) -> int:
    """A name as a Postgres advisory lock id (a signed 64-bit integer)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
