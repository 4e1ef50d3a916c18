"""An add's rows written on the driver (``storage.repositories.added_rows``): inside the session's
transaction even when nothing went before them, numbered and identified in order, and never
with a defaulted column silently left NULL."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from memos_server.services.memory_writer import MemoryText, new_memory_values
from memos_server.services.tasks import Added, Request, TaskKind, find_repeat, open_task
from memos_server.settings import DatabaseSettings
from memos_server.storage.database import Database
from memos_server.storage.repositories.added_rows import insert_memories, insert_messages
from memos_server.storage.vocabulary import MemoryKind, MemoryMode
from tests.support.database import project_of, sql
from tests.support.memories import message_values
from tests.support.service import ServiceThread


def _memory(project: uuid.UUID, user_id: str, value: str, sources: list[int]) -> dict[str, object]:
    return new_memory_values(
        text=MemoryText("k", value),
        project_id=project,
        user_id=user_id,
        kind=MemoryKind.FACT,
        mode=MemoryMode.FAST,
        memory_type="LongTermMemory",
        embedding=[0.5] * 384,
        conversation_id="c1",
        source_message_ids=sources,
    )


def test_rows_go_in_the_sessions_transaction_and_in_order(
    service: ServiceThread, pg_url: str, api_key: str
) -> None:
    project = uuid.UUID(project_of(pg_url, api_key))
    user = f"rows-{uuid.uuid4().hex[:6]}"

    async def write(commit: bool) -> list[int]:
        database = Database(pg_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                # Nothing before them: the write itself makes the session begin.
                ids = await insert_messages(
                    session,
                    project,
                    [message_values(project_id=project, user_id=user, content=t) for t in "一二三"],
                )
                memories = [_memory(project, user, f"第{i}条", [i]) for i in ids]
                await insert_memories(session, memories)
                if commit:
                    await session.commit()
                else:
                    await session.rollback()
            return ids
        finally:
            await database.dispose()

    asyncio.run(write(commit=False))
    assert sql(pg_url, "SELECT id FROM messages WHERE user_id = :u", u=user) == []
    assert sql(pg_url, "SELECT id FROM memories WHERE user_id = :u", u=user) == []

    ids = asyncio.run(write(commit=True))
    assert ids == sorted(ids)
    stored = sql(pg_url, "SELECT id, seq, content FROM messages WHERE user_id = :u", u=user)
    by_id = {r["id"]: r for r in stored}
    assert [by_id[i]["content"] for i in ids] == ["一", "二", "三"]
    seqs = [by_id[i]["seq"] for i in ids]
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    memories = sql(
        pg_url,
        "SELECT m.memory_value, m.source_message_ids, m.embedding::text AS vector, h.event,"
        " h.new_value FROM memories m JOIN memory_history h ON h.memory_id = m.id"
        " WHERE m.user_id = :u ORDER BY m.source_message_ids",
        u=user,
    )
    assert [(m["memory_value"], m["source_message_ids"]) for m in memories] == [
        (f"第{i}条", [i]) for i in sorted(ids)
    ]
    assert all(m["event"] == "ADD" and m["new_value"] == m["memory_value"] for m in memories)
    assert all(m["vector"] == "[" + ",".join(["0.5"] * 384) + "]" for m in memories)


def test_a_defaulted_column_left_out_is_refused(
    service: ServiceThread, pg_url: str, api_key: str
) -> None:
    project = uuid.UUID(project_of(pg_url, api_key))
    values = _memory(project, "someone", "x", [])
    del values["confidence"]

    async def write() -> None:
        database = Database(pg_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                await insert_memories(session, [values])
        finally:
            await database.dispose()

    with pytest.raises(ValueError, match="confidence"):
        asyncio.run(write())


def _request(user_id: str) -> Request:
    return Request(
        kind=TaskKind.ADD_MESSAGE,
        user_id=user_id,
        conversation_id="c1",
        fingerprint=uuid.uuid4().hex,
        idempotency_key=None,
    )


def _open(pg_url: str, project: uuid.UUID, request: Request, window_s: float) -> Added:
    """``open_task`` for the request, committed, on a database of its own."""

    async def open_one() -> Added:
        database = Database(pg_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                added = await open_task(
                    session, project, request, running=False, dedupe_window_s=window_s
                )
                await session.commit()
            return added
        finally:
            await database.dispose()

    return asyncio.run(open_one())


def test_a_task_written_on_the_driver_has_the_servers_times(
    service: ServiceThread, pg_url: str, api_key: str
) -> None:
    project = uuid.UUID(project_of(pg_url, api_key))
    added = _open(pg_url, project, _request("times"), 60)

    [stored] = sql(pg_url, "SELECT created_at, updated_at FROM tasks WHERE user_id = 'times'")
    assert (added.task.created_at, added.task.updated_at) == (
        stored["created_at"],
        stored["updated_at"],
    )


def test_the_look_up_under_the_locks_finds_a_twin_or_writes_the_task(
    service: ServiceThread, pg_url: str, api_key: str
) -> None:
    """``open_task``'s one statement: the same request within the window answers the first
    task (nothing written); with no window every request opens its own task."""
    project = uuid.UUID(project_of(pg_url, api_key))
    request = _request("twins")

    async def repeat_of(window_s: float) -> uuid.UUID | None:
        database = Database(pg_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                lookup = await find_repeat(session, project, request, window_s)
            return lookup.repeat.task.id if lookup.repeat is not None else None
        finally:
            await database.dispose()

    first = _open(pg_url, project, request, 60)
    assert first.created
    again = _open(pg_url, project, request, 60)
    assert (again.task.id, again.created) == (first.task.id, False)
    assert asyncio.run(repeat_of(60)) == first.task.id
    assert asyncio.run(repeat_of(0)) is None
    second = _open(pg_url, project, request, 0)
    assert second.created
    assert second.task.id != first.task.id
    stored = sql(pg_url, "SELECT id FROM tasks WHERE user_id = 'twins' ORDER BY created_at")
    assert [row["id"] for row in stored] == [first.task.id, second.task.id]
