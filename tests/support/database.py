"""The database under the service, reached directly: keys for new projects, and the rows the
service stored beyond what the API shows."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from memos_server.services.apikeys import create_key, hash_key
from memos_server.settings import DatabaseSettings
from memos_server.storage.database import Database


def new_api_key(database_url: str, project: str | None = None) -> str:
    """A key for a new project, made the way ``memos-server apikey create`` makes one."""

    async def make() -> str:
        database = Database(database_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                key = await create_key(session, project or f"test-{uuid.uuid4().hex[:12]}")
                await session.commit()
            return key.secret
        finally:
            await database.dispose()

    return asyncio.run(make())


def sql(database_url: str, statement: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of one query, to check what the service stored beyond what the API shows."""

    async def run() -> list[dict[str, Any]]:
        database = Database(database_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                result = await session.execute(text(statement), params)
                return [dict(row) for row in result.mappings()]
        finally:
            await database.dispose()

    return asyncio.run(run())


def execute(database_url: str, statement: str, **params: Any) -> int:
    """Run one statement and commit; the rows it touched."""

    async def run() -> int:
        database = Database(database_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                result = await session.execute(text(statement), params)
                await session.commit()
                return int(result.rowcount)  # type: ignore[attr-defined]
        finally:
            await database.dispose()

    return asyncio.run(run())


def project_of(database_url: str, api_key: str) -> str:
    [row] = sql(
        database_url,
        "SELECT project_id::text AS id FROM api_keys WHERE key_hash = :h",
        h=hash_key(api_key),
    )
    project: str = row["id"]
    return project


def counts_in_project(database_url: str, api_key: str, tables: tuple[str, ...]) -> dict[str, int]:
    """Rows of each table in the key's project: what other tests' background work (a worker
    finishing their jobs on the shared database) writes meanwhile does not count."""
    project = project_of(database_url, api_key)
    counted = "SELECT count(*) AS n FROM {} WHERE project_id = :p"
    return {t: sql(database_url, counted.format(t), p=project)[0]["n"] for t in tables}


def fresh_database(server_url: str) -> str:
    """A new, empty database on the same Postgres server; its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    sql_autocommit(server_url, f'CREATE DATABASE "{name}"')
    url: str = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    return url


def sql_autocommit(database_url: str, statement: str) -> None:
    async def run() -> None:
        database = Database(database_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.engine.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text(statement))
        finally:
            await database.dispose()

    asyncio.run(run())


@contextmanager
def table_locked(database_url: str, table: str) -> Iterator[None]:
    """``table`` locked ACCESS EXCLUSIVE by another connection while the block runs: every
    statement on it waits."""

    async def hold(held: threading.Event, done: threading.Event) -> None:
        connection = await asyncpg.connect(database_url)
        try:
            async with connection.transaction():
                await connection.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
                held.set()
                await asyncio.to_thread(done.wait, 30)
        finally:
            await connection.close()

    held, done = threading.Event(), threading.Event()
    locker = threading.Thread(target=lambda: asyncio.run(hold(held, done)), daemon=True)
    locker.start()
    assert held.wait(10)
    try:
        yield
    finally:
        done.set()
        locker.join()
