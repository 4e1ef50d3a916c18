"""A short-lived database connection for the commands that only read or write rows (keys,
projects, users, reset): no model, no worker, no migration unless the schema is behind.

The embedded Postgres is joined if a service runs it already (it is shared: see
``storage/embedded.py``), else started for the command and stopped after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.settings import Settings
from memos_server.storage.database import Database
from memos_server.storage.embedded import EmbeddedPostgres
from memos_server.storage.migrations import schema_is_current, upgrade_database
from memos_server.storage.postgres_memory import memory_settings


@asynccontextmanager
async def short_lived_database(settings: Settings) -> AsyncIterator[Database]:
    embedded = (
        EmbeddedPostgres(settings.data_dir, memory_settings(settings.postgres))
        if settings.database.url is None
        else None
    )
    try:
        if embedded is not None:
            url = await asyncio.to_thread(embedded.start)
        else:
            assert settings.database.url is not None
            url = settings.database.url.get_secret_value()
        one = settings.database.model_copy(update={"pool_size": 1, "max_overflow": 0})
        database = Database(url, one)
        try:
            if not await schema_is_current(database.engine):
                await database.engine.dispose()
                await asyncio.to_thread(upgrade_database, url)
            yield database
        finally:
            await database.dispose()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


def in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[None]]) -> None:
    """Run ``work`` in one session of a short-lived connection (it commits what it writes)."""

    async def run() -> None:
        async with short_lived_database(settings) as database, database.session() as session:
            await work(session)

    asyncio.run(run())
