"""Tasks: one per add, reported by /get/status."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Interval,
    Select,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.driver_sql import (
    DriverStatement,
    column_binds,
    driver_rows,
    driver_statement,
)
from memos_server.storage.models import MemoryHistory, Project, Task


# Every add looks for its twin twice: before the embedding (with its project's TTL, the expiry
# of what it makes, in the same round trip) and under its locks (with the new task's INSERT, in
# the same round trip); on the driver (``storage.driver_sql``), each built once. A task found
# or written this way is a plain ``Task`` (not in the session): the add reads it, never
# changes it.
def _twin() -> Select[Any]:
    """The first task of the fingerprint within the window (none when ``dedupe`` is false)."""
    return (
        select(Task.__table__)
        .where(
            Task.project_id == bindparam("project_id"),
            Task.fingerprint == bindparam("fingerprint"),
            Task.kind == bindparam("kind"),
            Task.created_at > func.now() - bindparam("window", type_=Interval),
            bindparam("dedupe", type_=Boolean),
        )
        .order_by(Task.created_at)
        .limit(1)
    )


_TASK_COLUMNS = tuple(column.name for column in Task.__table__.c)
_lateral_twin = _twin().lateral("twin")
_TWIN_AND_TTL = driver_statement(
    select(Project.ttl_days, *_lateral_twin.c)
    .select_from(Project.__table__.outerjoin(_lateral_twin, true()))
    .where(Project.id == bindparam("project_id"))
)


@dataclass(frozen=True)
class TwinAndTtl:
    twin: Task | None
    ttl_days: int | None  # the project's own TTL (None: the service's default)


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
        parameters = {f"lock_{i}": lock for i, lock in enumerate(named)}
        parameters["user"] = _user_lock(project_id, user_id)
        await driver_rows(self.session, _lock_statement(len(named)), parameters, writes=True)

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

    async def twin_and_ttl(
        self, project_id: uuid.UUID, kind: str, fingerprint: str, window_s: float
    ) -> TwinAndTtl:
        """The first task of the same fingerprint opened within the last ``window_s`` (none
        when it is 0), and the project's own TTL in days: one round trip."""
        rows = await driver_rows(
            self.session,
            _TWIN_AND_TTL,
            _twin_parameters(project_id, kind, fingerprint, window_s),
        )
        if not rows:
            return TwinAndTtl(None, None)
        return TwinAndTtl(_task_of(rows[0][1:]), rows[0][0])

    async def twin_or_insert(self, values: dict[str, Any], window_s: float) -> tuple[Task, bool]:
        """The first task of ``values``' fingerprint opened within the last ``window_s``, else a
        new task of these column values (every column with a default given), which comes back
        with the times the server gave it: one round trip. True when it is new."""
        parameters = values | _twin_parameters(
            values["project_id"], values["kind"], values["fingerprint"], window_s
        )
        [row] = await driver_rows(
            self.session, _twin_or_new(tuple(values)), parameters, writes=True
        )
        twin = _task_of(row[: len(_TASK_COLUMNS)])
        if twin is not None:
            return twin, False
        created_at, updated_at = row[len(_TASK_COLUMNS) :]
        return Task(**values, created_at=created_at, updated_at=updated_at), True

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


def _task_of(values: Sequence[Any]) -> Task | None:
    """The twin's columns as a plain ``Task``; None when the outer join found none."""
    twin = dict(zip(_TASK_COLUMNS, values, strict=True))
    return Task(**twin) if twin["id"] is not None else None


def _twin_parameters(
    project_id: uuid.UUID, kind: str, fingerprint: str, window_s: float
) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "fingerprint": fingerprint,
        "kind": str(kind),
        "window": timedelta(seconds=max(window_s, 0)),
        "dedupe": window_s > 0,
    }


@lru_cache(maxsize=4)
def _twin_or_new(columns: tuple[str, ...]) -> DriverStatement:
    """The twin (``_twin``), and the task's INSERT of these columns when there is none: Postgres
    runs a data-modifying WITH once, whether or not the outer query reads it."""
    twin = _twin().cte("twin")
    binds = column_binds(Task.__table__, columns)
    new = (
        insert(Task)
        .from_select(list(columns), select(*binds.values()).where(~exists(select(twin.c.id))))
        .returning(Task.created_at, Task.updated_at)
        .cte("new")
    )
    one = select(literal(1).label("one")).subquery("one")
    return driver_statement(
        select(*twin.c, new.c.created_at, new.c.updated_at).select_from(
            one.outerjoin(twin, true()).outerjoin(new, true())
        )
    )


@lru_cache(maxsize=4)
def _lock_statement(named: int) -> DriverStatement:
    """Advisory locks on ``named`` lock ids (``lock_0``…), then the user's lock shared."""
    locks = [
        func.pg_advisory_xact_lock(bindparam(f"lock_{i}", type_=BigInteger)) for i in range(named)
    ]
    user = func.pg_advisory_xact_lock_shared(bindparam("user", type_=BigInteger))
    return driver_statement(select(*locks, user))


def _user_lock(project_id: uuid.UUID, user_id: str) -> int:
    return _lock_id(f"{project_id}:user:{user_id}")


def _lock_id(name: str) -> int:
    """A name as a Postgres advisory lock id (a signed 64-bit integer)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
