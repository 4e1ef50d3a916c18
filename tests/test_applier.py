"""The one applier of ADD / UPDATE / ARCHIVE / NONE, called in process on a real Postgres: the
rules fine extraction and feedback share (``services/fine/applier.py``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.services.apikeys import create_project
from memos_server.services.fine.applier import Applier, Decision
from memos_server.services.memory_writer import MemoryText, new_memory
from memos_server.settings import DatabaseSettings
from memos_server.storage.database import Database
from memos_server.storage.models import Memory, MemoryHistory
from memos_server.storage.vocabulary import MemoryKind, MemoryMode
from memos_server.text.tokens import memory_tokens

DIMS = 384


def vector(axis: int) -> list[float]:
    return [1.0 if i == axis else 0.0 for i in range(DIMS)]


def memory(project_id: uuid.UUID, value: str, axis: int, sources: list[int]) -> Memory:
    return new_memory(
        text=MemoryText(value[:8], value),
        project_id=project_id,
        user_id="小王",
        conversation_id="c1",
        kind=MemoryKind.FACT,
        mode=MemoryMode.FINE,
        memory_type="UserMemory",
        embedding=vector(axis),
        source_message_ids=sources,
    )


def in_database(pg_url: str, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        database = Database(pg_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await database.dispose()

    return asyncio.run(run())


def test_each_decision_is_applied_with_its_history(service: object, pg_url: str) -> None:
    async def stored(session: AsyncSession) -> tuple[uuid.UUID, list[Memory]]:
        project, _ = await create_project(session, f"applier-{uuid.uuid4().hex[:8]}")
        old = [
            memory(project.id, "用户住在北京", 0, [1]),
            memory(project.id, "用户喜欢喝咖啡", 1, [2]),
            memory(project.id, "用户养了一只猫", 2, [3]),
            memory(project.id, "用户在杭州工作", 3, [4]),
        ]
        session.add_all(old)
        return project.id, old

    project_id, (home, coffee, cat, work) = in_database(pg_url, stored)
    task_id = uuid.uuid4()

    async def apply(session: AsyncSession) -> list[Memory]:
        # ``work`` is archived by someone else before the decisions are applied.
        gone = await session.get(Memory, work.id)
        assert gone is not None
        gone.status = "archived"
        await session.flush()
        applier = Applier(session, project_id=project_id, task_id=task_id, source_ids=[9])
        await applier.apply(
            Decision("UPDATE", home, "用户住在上海，以前住在北京", "住址"), vector=vector(5)
        )
        replacement = memory(project_id, "用户不喝咖啡了，改喝茶", 6, [9])
        await applier.apply(Decision("ARCHIVE", coffee), new=replacement)
        await applier.apply(Decision("NONE", cat), new=memory(project_id, "用户有猫", 2, [9]))
        fallback = memory(project_id, "用户在深圳工作", 7, [9])
        await applier.apply(
            Decision("UPDATE", work, "用户在深圳工作", None), new=fallback, vector=vector(8)
        )
        return await applier.finish()

    added = in_database(pg_url, apply)
    assert [m.memory_value for m in added] == ["用户不喝咖啡了，改喝茶", "用户在深圳工作"]

    async def read(session: AsyncSession) -> tuple[dict[str, Memory], list[MemoryHistory]]:
        rows = (await session.scalars(select(Memory).where(Memory.project_id == project_id))).all()
        history = await session.scalars(
            select(MemoryHistory).where(MemoryHistory.task_id == task_id).order_by(MemoryHistory.id)
        )
        return {m.memory_key: m for m in rows}, list(history)

    memories, history = in_database(pg_url, read)
    updated = memories["住址"]
    assert updated.id == home.id
    assert updated.memory_value == "用户住在上海，以前住在北京"
    assert updated.search_text == memory_tokens("住址", "用户住在上海，以前住在北京")
    assert updated.source_message_ids == [1, 9]
    assert list(updated.embedding) == vector(5)
    assert memories[coffee.memory_key].status == "archived"
    assert memories[cat.memory_key].status == "activated"  # NONE touches nothing, adds nothing
    assert memories[work.memory_key].memory_value == "用户在杭州工作"  # gone: left as it was
    assert [(h.event, h.memory_id, h.new_value) for h in history] == [
        ("UPDATE", home.id, "用户住在上海，以前住在北京"),
        ("ARCHIVE", coffee.id, "用户不喝咖啡了，改喝茶"),
        ("ADD", added[0].id, "用户不喝咖啡了，改喝茶"),
        ("ADD", added[1].id, "用户在深圳工作"),
    ]
    assert all(h.source_message_ids == [9] for h in history)


def test_retire_archives_whole_memories_with_their_rows(service: object, pg_url: str) -> None:
    async def run(session: AsyncSession) -> list[tuple[str, str | None]]:
        project, _ = await create_project(session, f"applier-{uuid.uuid4().hex[:8]}")
        windows = [memory(project.id, "user: 我一般都坐东航", 0, [1])]
        session.add_all(windows)
        await session.flush()
        task_id = uuid.uuid4()
        applier = Applier(session, project_id=project.id, task_id=task_id)
        await applier.retire(windows)
        await applier.finish()
        await session.flush()
        await session.refresh(windows[0])
        assert windows[0].status == "archived"
        rows = await session.scalars(select(MemoryHistory).where(MemoryHistory.task_id == task_id))
        return [(h.event, h.old_value) for h in rows]

    assert in_database(pg_url, run) == [("ARCHIVE", "user: 我一般都坐东航")]
