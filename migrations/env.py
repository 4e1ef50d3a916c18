"""Alembic environment: async engine (asyncpg), one advisory lock so that several processes
starting at once migrate one after another."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from memos_server.storage.database import async_url
from memos_server.storage.models import Base

# Any constant will do, as long as nothing else in the database uses it.
MIGRATION_LOCK_ID = 7_202_511_210

config = context.config


def _url() -> str:
    url = config.attributes.get("url")
    if url:
        return str(url)
    from memos_server.settings import get_settings

    configured = get_settings().database.url
    if configured is None:
        raise SystemExit(
            "no database URL: set MEMOS_DATABASE__URL, or run `memos-server db upgrade`, "
            "which also starts the embedded Postgres"
        )
    return configured.get_secret_value()


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


async def _run() -> None:
    # A migration (an index over every row) takes as long as it takes: no statement timeout,
    # neither the service's (its own engine) nor one set on the database or role.
    engine = create_async_engine(
        async_url(_url()),
        poolclass=NullPool,
        connect_args={"server_settings": {"statement_timeout": "0"}},
    )
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=async_url(_url()), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run())
