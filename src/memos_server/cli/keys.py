"""``apikey`` and ``project`` commands, and ``db upgrade``: rows only, on a short-lived
connection (no model is loaded), so each answers in well under a second when Postgres runs."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.services.apikeys import (
    create_key,
    create_project,
    list_keys,
    list_projects,
    revoke_key,
)

TIME = "%Y-%m-%d %H:%M:%S"


async def db_upgrade(session: AsyncSession) -> None:
    # short_lived_database has migrated the schema if it was behind.
    print("database schema is up to date")


async def apikey_create(session: AsyncSession, project: str, name: str | None) -> None:
    key = await create_key(session, project, name or "")
    await session.commit()
    print(f"API key for project {key.project!r} (shown only this once; store it now):")
    print(key.secret)


async def apikey_list(session: AsyncSession, project: str | None) -> None:
    rows = await list_keys(session, project)
    columns = "{:<12} {:<20} {:<14} {:<20} {:<20} {}"
    print(columns.format("PREFIX", "PROJECT", "NAME", "CREATED", "LAST USED", "STATE"))
    for key, project_name in rows:
        state = "revoked" if key.revoked_at else "active"
        used = key.last_used_at.strftime(TIME) if key.last_used_at else "never"
        created = key.created_at.strftime(TIME)
        print(columns.format(key.prefix, project_name, key.name, created, used, state))


async def apikey_revoke(session: AsyncSession, prefix: str) -> None:
    count = await revoke_key(session, prefix)
    await session.commit()
    print(f"revoked {count} key(s) with prefix {prefix!r}")


async def project_create(session: AsyncSession, name: str) -> None:
    project, created = await create_project(session, name)
    await session.commit()
    print(f"project {project.name!r} ({project.id}){'' if created else ' already exists'}")


async def project_list(session: AsyncSession) -> None:
    rows = await list_projects(session)
    print(f"{'PROJECT':<24} {'ACTIVE KEYS':<12} ID")
    for project, keys in rows:
        print(f"{project.name:<24} {keys:<12} {project.id}")
