"""Projects: the tenants. Every key, message and memory belongs to exactly one."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.models import ApiKey, Project


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
