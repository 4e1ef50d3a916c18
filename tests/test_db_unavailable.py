"""What counts as the database being away (a 503 to retry) and what as a fault (a 500), and
pooled connections the server dropped being replaced without a failed request.

The whole outage, under load, is tests/test_db_fault.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from memos_server.settings import DatabaseSettings
from memos_server.storage.database import Database, unavailable
from tests.support.api import Api
from tests.support.database import sql
from tests.support.service import free_port

Work = Callable[[Database], Awaitable[object]]


def failure(url: str, work: Work, **settings: float) -> BaseException:
    """What ``work`` on a database at ``url`` raises."""

    async def run() -> BaseException:
        database = Database(url, DatabaseSettings(**settings))  # type: ignore[arg-type]
        try:
            await work(database)
        except Exception as error:
            return error
        finally:
            await database.dispose()
        raise AssertionError("no error")

    return asyncio.run(run())


async def select_one(database: Database) -> object:
    async with database.session() as session:
        return await session.scalar(text("SELECT 1"))


def test_a_stopped_or_unreachable_server_is_unavailable() -> None:
    refused = failure(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", select_one)
    no_socket = failure("postgresql://postgres@/postgres?host=/nonexistent-socket-dir", select_one)
    assert isinstance(refused, OSError)
    assert unavailable(refused)
    assert unavailable(no_socket)


def test_no_free_connection_in_time_is_unavailable(pg_url: str) -> None:
    async def hold_the_only_connection(database: Database) -> object:
        async with database.session() as held:
            await held.execute(text("SELECT 1"))
            return await select_one(database)

    error = failure(
        pg_url, hold_the_only_connection, pool_size=1, max_overflow=0, pool_timeout_s=0.2
    )
    assert unavailable(error)


def test_a_connection_the_server_terminates_midway_is_unavailable(pg_url: str) -> None:
    async def terminated(database: Database) -> object:
        async with database.session() as session, database.session() as other:
            pid = await session.scalar(text("SELECT pg_backend_pid()"))
            # The same FATAL admin_shutdown every connection gets from pg_ctl stop.
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            return await session.execute(text("SELECT 1"))

    error = failure(pg_url, terminated)
    assert isinstance(error, DBAPIError)
    assert unavailable(error)


def test_a_server_starting_up_or_shutting_down_is_unavailable() -> None:
    # What asyncpg raises while Postgres starts up or shuts down, as SQLAlchemy hands it on.
    for message in ("the database system is starting up", "the database system is shutting down"):
        refused = asyncpg.exceptions.CannotConnectNowError(message)
        assert unavailable(DBAPIError("SELECT 1", None, refused))


def test_a_bad_statement_is_a_fault_not_an_outage(pg_url: str) -> None:
    async def bad_syntax(database: Database) -> object:
        async with database.session() as session:
            return await session.execute(text("SELEC 1"))

    async def bad_value(database: Database) -> object:
        async with database.session() as session:
            return await session.execute(text("SELECT CAST('x' AS integer)"))

    assert not unavailable(failure(pg_url, bad_syntax))
    assert not unavailable(failure(pg_url, bad_value))
    assert not unavailable(ValueError("not about the database"))


def test_requests_succeed_right_after_the_server_drops_every_connection(
    api: Api, pg_url: str
) -> None:
    api.ok("/search/memory", {"user_id": "u1", "query": "anything"})
    others = (
        "FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    )
    pids = [row["pid"] for row in sql(pg_url, f"SELECT pid {others}")]
    assert pids
    assert all(
        row["t"]
        for row in sql(
            pg_url, "SELECT pg_terminate_backend(unnest(CAST(:p AS int[]))) AS t", p=pids
        )
    )
    # pg_terminate_backend only signals: wait until the server has closed them all.
    deadline = time.monotonic() + 10
    while sql(pg_url, f"SELECT count(*) AS n {others} AND pid = ANY(CAST(:p AS int[]))", p=pids)[0][
        "n"
    ]:
        assert time.monotonic() < deadline, "the terminated connections stayed open"
        time.sleep(0.05)
    # The pool notices a dropped connection at checkout and opens a new one: no request fails.
    for _ in range(3):
        api.ok(
            "/add/message",
            {
                "user_id": "u1",
                "conversation_id": "c1",
                "messages": [{"role": "user", "content": "I like green tea."}],
            },
        )
        api.ok("/search/memory", {"user_id": "u1", "query": "tea"})


def test_on_the_driver_a_closed_connection_is_unavailable_and_a_bad_argument_a_fault(
    pg_url: str,
) -> None:
    """Statements run on asyncpg directly (search's) raise its own errors, unwrapped."""

    async def caught(statement: Awaitable[object]) -> BaseException:
        try:
            await statement
        except Exception as error:
            return error
        raise AssertionError("no error")

    async def errors() -> tuple[BaseException, BaseException, BaseException]:
        connection = await asyncpg.connect(pg_url)
        other = await asyncpg.connect(pg_url)
        try:
            bad_argument = await caught(connection.fetch("SELECT $1::integer", "not a number"))
            running = asyncio.ensure_future(caught(connection.fetch("SELECT pg_sleep(30)")))
            await asyncio.sleep(0.3)
            await other.fetch("SELECT pg_terminate_backend($1)", connection.get_server_pid())
            lost = await running  # its backend gone mid-statement
            for _ in range(100):  # the driver has seen the end of the connection
                if connection.is_closed():
                    break
                await asyncio.sleep(0.05)
            closed = await caught(connection.fetch("SELECT 1"))
        finally:
            await other.close()
            connection.terminate()
        return bad_argument, lost, closed

    bad_argument, lost, closed = asyncio.run(errors())
    assert isinstance(bad_argument, asyncpg.exceptions.DataError)
    assert not unavailable(bad_argument)
    assert unavailable(lost), repr(lost)
    assert unavailable(closed), repr(closed)
