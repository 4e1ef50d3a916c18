"""add/list/get/update/delete profile_template: a project's templates (the request service).

A template id is shown as ``tpl_<32 hex>`` (the Cloud's ``tpl_`` prefix); an id that names no
template of the caller's project, another project's included, is 40001.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.errors import BadRequest, NotFound, RequiredFieldEmpty, TooLong
from memos_server.services.profiles.trees import (
    Field,
    check_leaf_conflicts,
    fields_of,
    parse_tree,
    stored_fields,
)
from memos_server.services.profiles.writer import Origin, now_iso, template_changes, write_fields
from memos_server.settings import Settings
from memos_server.storage.models import ProfileTemplate
from memos_server.storage.paging import offset_of
from memos_server.storage.repositories.profiles import ProfileRepository
from memos_server.storage.vocabulary import ProfileActor

PREFIX = "tpl_"


def template_key(template_id: uuid.UUID) -> str:
    return PREFIX + template_id.hex


def parse_template_id(text: str) -> uuid.UUID:
    """The template a client's id names; 40001 when it cannot name one."""
    try:
        return uuid.UUID(text.removeprefix(PREFIX))
    except ValueError:
        raise NotFound(f"profile template {text!r} not found") from None


@dataclass(frozen=True)
class TemplateCount:
    template: ProfileTemplate
    instances: int


@dataclass(frozen=True)
class TemplatePage:
    items: list[TemplateCount]
    total: int


class TemplateService:
    def __init__(self, settings: Settings) -> None:
        self.limits = settings.profiles

    def _fields(self, metadata: object) -> list[Field]:
        specs = parse_tree(metadata, self.limits)
        if not specs:
            raise RequiredFieldEmpty("metadata must hold at least one field")
        stamp = now_iso()
        fields = [
            Field(
                s.path,
                s.value or "",
                True if s.algorithm_updatable is None else s.algorithm_updatable,
            )
            for s in specs
        ]
        if len({f.path for f in fields}) != len(fields):
            raise BadRequest("metadata names a field twice")
        check_leaf_conflicts(fields, "metadata")
        return [Field(f.path, f.value, f.algorithm_updatable, stamp) for f in fields]

    def _name(self, name: str) -> str:
        clean = name.strip()
        if not clean:
            raise RequiredFieldEmpty("name must not be blank")
        if len(clean) > self.limits.max_name_chars:
            raise TooLong(f"name is longer than {self.limits.max_name_chars} characters")
        return clean

    async def add(
        self, session: AsyncSession, *, project_id: uuid.UUID, name: str, metadata: object
    ) -> ProfileTemplate:
        template = ProfileTemplate(
            id=uuid.uuid4(),
            project_id=project_id,
            name=self._name(name),
            fields=stored_fields(self._fields(metadata)),
        )
        repository = ProfileRepository(session)
        if await repository.count_templates(project_id) >= self.limits.max_templates:
            raise BadRequest(
                f"this project holds {self.limits.max_templates} profile templates, the most "
                "it may (MEMOS_PROFILES__MAX_TEMPLATES): delete one first"
            )
        await repository.add(template)
        return template

    async def get(
        self,
        session: AsyncSession,
        *,
        project_id: uuid.UUID,
        template_id: str,
        lock: bool = False,
        share: bool = False,
    ) -> ProfileTemplate:
        template = await ProfileRepository(session).template(
            project_id, parse_template_id(template_id), lock=lock, share=share
        )
        if template is None:
            raise NotFound(f"profile template {template_id!r} not found")
        return template

    async def detail(
        self, session: AsyncSession, *, project_id: uuid.UUID, template_id: str
    ) -> TemplateCount:
        template = await self.get(session, project_id=project_id, template_id=template_id)
        counts = await ProfileRepository(session).instance_counts([template.id])
        return TemplateCount(template, counts[template.id])

    async def page(
        self, session: AsyncSession, *, project_id: uuid.UUID, page: int, size: int
    ) -> TemplatePage:
        repository = ProfileRepository(session)
        total = await repository.count_templates(project_id)
        templates = await repository.templates_page(project_id, offset_of(page, size), size)
        counts = await repository.instance_counts([t.id for t in templates])
        return TemplatePage([TemplateCount(t, counts[t.id]) for t in templates], total)

    async def update(
        self,
        session: AsyncSession,
        *,
        project_id: uuid.UUID,
        template_id: str,
        name: str,
        metadata: object,
    ) -> int:
        """Rename and restructure the template, carrying the change to every bound profile;
        how many profiles it touched."""
        new_name, new_fields = self._name(name), self._fields(metadata)
        template = await self.get(
            session, project_id=project_id, template_id=template_id, lock=True
        )
        changes = template_changes(fields_of(template.fields), new_fields)
        repository = ProfileRepository(session)
        profiles = await repository.profiles_of_template(template.id)
        for profile in profiles:
            await write_fields(
                repository,
                profile,
                changes,
                Origin(ProfileActor.TEMPLATE),
                max_fields=self.limits.max_fields,
            )
        template.name = new_name
        template.fields = stored_fields(new_fields)
        template.updated_at = datetime.now(UTC)
        await session.flush()
        return len(profiles)

    async def delete(
        self, session: AsyncSession, *, project_id: uuid.UUID, template_id: str
    ) -> int:
        """Delete the template and its profiles; how many profiles went with it."""
        template = await self.get(
            session, project_id=project_id, template_id=template_id, lock=True
        )
        repository = ProfileRepository(session)
        instances = (await repository.instance_counts([template.id]))[template.id]
        await repository.delete_template(template)
        return instances
