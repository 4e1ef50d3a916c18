"""``apikey`` and ``project`` commands that write, and ``db upgrade``: rows only, on a
short-lived connection (no model is loaded). The listings are in ``cli.listing``."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.services.apikeys import (
    create_key,
    create_project,
    revoke_key,
)
from memos_server.services.retention import set_project_ttl
from memos_server.settings import Settings


async def migrated(session: AsyncSession) -> None:
    """Nothing: short_lived_database has migrated the schema if it was behind."""


async def db_upgrade(session: AsyncSession) -> None:
    # short_lived_database has migrated the schema if it was behind.
    print("database schema is up to date")


async def apikey_create(session: AsyncSession, project: str, name: str | None) -> None:
    key = await create_key(session, project, name or "")
    await session.commit()
    print(f"API key for project {key.project!r} (shown only this once; store it now):")
    print(key.secret)


async def apikey_revoke(session: AsyncSession, prefix: str) -> None:
    count = await revoke_key(session, prefix)
    await session.commit()
    print(f"revoked {count} key(s) with prefix {prefix!r}")


async def project_create(session: AsyncSession, name: str) -> None:
    project, created = await create_project(session, name)
    await session.commit()
    print(f"project {project.name!r} ({project.id}){'' if created else ' already exists'}")


async def project_ttl(
    session: AsyncSession, settings: Settings, name: str, days: int | None
) -> None:
    project = await set_project_ttl(session, settings.retention, name, days)
    await session.commit()
    if days is None:
        default = settings.retention.default_ttl_days
        said = f"the default ({default} days)" if default else "the default (forever)"
    else:
        said = f"{days} days" if days else "forever"
    print(f"memories added to project {project.name!r} from now on live {said}")
