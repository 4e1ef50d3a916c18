"""The connection pool serves the requests waiting for a connection in the order they came: a
newcomer does not take a connection handed back while others wait (``storage.fair_pool``), a
wait that times out leaves the line, and a connection handed to a waiter that gave up is passed
on, not lost."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from memos_server.settings import DatabaseSettings
from memos_server.storage.database import Database
from memos_server.storage.fair_pool import FairQueue


def one_connection(url: str, timeout_s: float = 10) -> Database:
    return Database(url, DatabaseSettings(pool_size=1, max_overflow=0, pool_timeout_s=timeout_s))


def waiting(database: Database) -> int:
    queue = database.engine.sync_engine.pool._pool  # type: ignore[attr-defined]
    assert isinstance(queue, FairQueue)
    return len(queue._waiters)


async def until(condition: object) -> None:
    for _ in range(500):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


def test_a_connection_handed_back_goes_to_the_waiter_not_a_newcomer(pg_url: str) -> None:
    served: list[str] = []

    async def select(database: Database, who: str) -> None:
        async with database.session() as session:
            await session.execute(text("SELECT 1"))
            served.append(who)

    async def run() -> None:
        database = one_connection(pg_url)
        try:
            holder = database.session()
            await holder.execute(text("SELECT 1"))
            waiter = asyncio.create_task(select(database, "waiter"))
            await until(lambda: waiting(database) == 1)
            # Hand the connection back and ask at once, before the waiter has run: SQLAlchemy's
            # own queue gave it to this newcomer.
            await holder.close()
            await select(database, "newcomer")
            await waiter
        finally:
            await database.dispose()

    asyncio.run(run())
    assert served == ["waiter", "newcomer"]


def test_a_wait_that_times_out_leaves_the_line(pg_url: str) -> None:
    async def run() -> None:
        database = one_connection(pg_url, timeout_s=0.2)
        try:
            async with database.session() as holder:
                await holder.execute(text("SELECT 1"))
                async with database.session() as late:
                    with pytest.raises(PoolTimeout):
                        await late.execute(text("SELECT 1"))
                assert waiting(database) == 0
            async with database.session() as after:
                assert await after.scalar(text("SELECT 2")) == 2
        finally:
            await database.dispose()

    asyncio.run(run())


def test_a_connection_handed_to_a_waiter_that_gave_up_is_passed_on() -> None:
    async def run() -> None:
        queue = FairQueue(maxsize=1)
        first = asyncio.create_task(queue._wait(timeout_s=None))
        second = asyncio.create_task(queue._wait(timeout_s=None))
        await until(lambda: len(queue._waiters) == 2)
        queue.put_nowait("connection")  # to the first waiter, which has not run yet
        first.cancel()  # its request went away before it could take it
        assert await second == "connection"
        with pytest.raises(asyncio.CancelledError):
            await first
        assert not queue._waiters
        assert queue.empty()

    asyncio.run(run())


def test_an_idle_connection_is_taken_only_when_nobody_waits() -> None:
    async def run() -> None:
        queue = FairQueue(maxsize=2)
        queue.put_nowait("a")
        queue.put_nowait("b")
        assert queue.full()
        assert queue.qsize() == 2
        assert queue.get_nowait() == "a"  # first in, first out
        waiter = asyncio.create_task(queue._wait(timeout_s=None))
        await asyncio.sleep(0)
        assert queue.get_nowait() == "b"  # not waited for: idle
        queue.put_nowait("a")
        assert await waiter == "a"
        assert queue.empty()

    asyncio.run(run())
