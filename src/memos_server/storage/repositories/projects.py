"""Projects: the tenants. Every key, message and memory belongs to exactly one."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.driver_sql import driver_rows, driver_statement
from memos_server.storage.models import ApiKey, Project

# Read by every add (its memories' expiry): one column, on the driver (``storage.driver_sql``).
_TTL_DAYS = driver_statement(select(Project.ttl_days).where(Project.id == bindparam("id")))


class ProjectRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_or_create(self, name: str) -> Project:
        await self.session.execute(
            insert(Project).values(id=uuid.uuid4(), name=name).on_conflict_do_nothing()
        )
        project = await self.get_by_name(name)
        assert project is not None
        return project

    async def get_by_name(self, name: str) -> Project | None:
        result = await self.session.execute(select(Project).where(Project.name == name))
        return result.scalar_one_or_none()

    async def list_names(self) -> list[str]:
        """Every project's name, oldest project first."""
        result = await self.session.scalars(select(Project.name).order_by(Project.created_at))
        return list(result.all())

    async def list_with_key_counts(self) -> list[tuple[Project, int]]:
        active = func.count(ApiKey.id).filter(ApiKey.revoked_at.is_(None))
        result = await self.session.execute(
            select(Project, active)
            .outerjoin(ApiKey, ApiKey.project_id == Project.id)
            .group_by(Project.id)
            .order_by(Project.created_at)
        )
        return [(project, count) for project, count in result.all()]

    async def get(self, project_id: uuid.UUID) -> Project | None:
        return await self.session.get(Project, project_id)

    async def ttl_days(self, project_id: uuid.UUID) -> int | None:
        """The project's own TTL in days (None: the service's default, or no such project)."""
        rows = await driver_rows(self.session, _TTL_DAYS, {"id": project_id})
        return rows[0][0] if rows else None
