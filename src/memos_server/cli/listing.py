"""``apikey list`` and ``project list`` on one plain asyncpg connection.

A person runs these for a glance at what exists, so they answer in well under a second: no
SQLAlchemy, no ORM models, no migration check (importing those took longer than the query). The
two tables and columns read here exist since the first migration. On a database whose schema is
missing or behind, the query fails on a missing table or column and ``None`` is returned: the
caller then takes the ordinary path, which migrates first.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from memos_server.errors import ConfigurationError, NotFound
from memos_server.settings import Settings
from memos_server.storage.embedded import EmbeddedPostgres
from memos_server.storage.postgres_memory import memory_settings

TIME = "%Y-%m-%d %H:%M:%S"

# Projects without keys come as one row of NULLs: "no such project" needs no second query.
_KEYS = """
SELECT k.prefix, p.name AS project, k.name, k.created_at, k.last_used_at, k.revoked_at
FROM projects p LEFT JOIN api_keys k ON k.project_id = p.id
WHERE $1::text IS NULL OR p.name = $1
ORDER BY k.created_at
"""
_PROJECTS = """
SELECT p.name, p.id, count(k.id) FILTER (WHERE k.revoked_at IS NULL) AS keys
FROM projects p LEFT JOIN api_keys k ON k.project_id = p.id
GROUP BY p.id ORDER BY p.created_at
"""


def plain_url(url: str) -> str:
    """A SQLAlchemy-style URL (``postgresql+asyncpg://``) as asyncpg takes it."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise ConfigurationError("database URL must be a postgresql:// URL")
    return urlunsplit(parts._replace(scheme="postgresql"))


@asynccontextmanager
async def plain_connection(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """One connection to the configured Postgres (the embedded one joined or started)."""
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
        connection = await asyncpg.connect(
            plain_url(url), timeout=settings.database.connect_timeout_s
        )
        try:
            yield connection
        finally:
            await connection.close()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


def _when(moment: datetime | None) -> str:
    return moment.strftime(TIME) if moment is not None else "never"


async def _rows(settings: Settings, query: str, *arguments: object) -> list[asyncpg.Record] | None:
    async with plain_connection(settings) as connection:
        try:
            return list(await connection.fetch(query, *arguments))
        except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError):
            return None


def apikey_list(settings: Settings, project: str | None) -> bool:
    """Print the keys (never their secrets); False when the schema must be migrated first."""
    rows = asyncio.run(_rows(settings, _KEYS, project))
    if rows is None:
        return False
    if project is not None and not rows:
        raise NotFound(f"no project named {project!r}")
    columns = "{:<12} {} {} {:<20} {:<20} {}"
    head = ("PREFIX", pad("PROJECT", 20), pad("NAME", 14), "CREATED", "LAST USED", "STATE")
    print(columns.format(*head))
    for row in (row for row in rows if row["prefix"] is not None):
        state = "revoked" if row["revoked_at"] else "active"
        created, used = row["created_at"].strftime(TIME), _when(row["last_used_at"])
        named = pad(row["project"], 20), pad(row["name"], 14)
        print(columns.format(row["prefix"], *named, created, used, state))
    return True


def pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns: a CJK character takes two."""
    wide = sum(unicodedata.east_asian_width(char) in "WF" for char in text)
    return text + " " * max(0, width - len(text) - wide)


def project_list(settings: Settings) -> bool:
    """Print every project with its number of active keys; False as for ``apikey_list``."""
    rows = asyncio.run(_rows(settings, _PROJECTS))
    if rows is None:
        return False
    print(f"{pad('PROJECT', 24)} {'ACTIVE KEYS':<12} ID")
    for row in rows:
        print(f"{pad(row['name'], 24)} {row['keys']:<12} {row['id']}")
    return True
