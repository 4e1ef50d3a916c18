"""bind/profile_template, edit/profile, delete/profile and a subject's profiles for search,
get/memory and the console (the request service).

A profile's subject is a user (``user_id``) or an agent (``agent_id``): exactly one, as the SDK
insists. Binding is idempotent (a subject bound already keeps its profile and values), and so is
delete/profile (no profile: nothing to do); edit/profile needs the profile bound.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.errors import BadRequest, NotFound, RequiredFieldEmpty
from memos_server.services.limits import check_ids
from memos_server.services.profiles.templates import TemplateService, parse_template_id
from memos_server.services.profiles.trees import fields_of, parse_path, parse_tree
from memos_server.services.profiles.writer import Change, Origin, write_fields
from memos_server.settings import Settings
from memos_server.storage.models import Profile
from memos_server.storage.repositories.profiles import ProfileRepository, Subject
from memos_server.storage.vocabulary import ProfileActor, ProfileSubject


def subject_of(settings: Settings, user_id: str | None, agent_id: str | None) -> Subject:
    """The one subject a request names (user_id or agent_id)."""
    if user_id and agent_id:
        raise BadRequest("give user_id or agent_id, not both")
    if not user_id and not agent_id:
        raise RequiredFieldEmpty("user_id or agent_id is required")
    check_ids(settings.limits, user_id, agent_id=agent_id)
    if user_id:
        return Subject(ProfileSubject.USER, user_id)
    return Subject(ProfileSubject.AGENT, agent_id or "")


@dataclass(frozen=True)
class Binding:
    template_id: str
    user_id: str | None = None
    agent_id: str | None = None


class ProfileService:
    def __init__(self, settings: Settings, templates: TemplateService) -> None:
        self.settings = settings
        self.limits = settings.profiles
        self.templates = templates

    async def bind(
        self, session: AsyncSession, *, project_id: uuid.UUID, bindings: list[Binding]
    ) -> int:
        """Bind each subject to its template (all or none: an unknown template fails the
        request); the profiles made (a binding that exists already makes none)."""
        repository = ProfileRepository(session)
        made = 0
        for binding in bindings:
            subject = subject_of(self.settings, binding.user_id, binding.agent_id)
            # Held until the request ends: the template cannot be deleted or changed under it.
            template = await self.templates.get(
                session, project_id=project_id, template_id=binding.template_id, share=True
            )
            profile = Profile(
                id=uuid.uuid4(),
                project_id=project_id,
                template_id=template.id,
                subject_kind=subject.kind,
                subject_id=subject.id,
                fields=list(template.fields),
            )
            made += await repository.bind(profile)
        return made

    async def _bound(
        self, session: AsyncSession, project_id: uuid.UUID, template_id: str, subject: Subject
    ) -> Profile:
        await self.templates.get(session, project_id=project_id, template_id=template_id)
        profile = await ProfileRepository(session).profile(
            project_id, parse_template_id(template_id), subject, lock=True
        )
        if profile is None:
            raise NotFound(
                f"no profile of this {subject.kind} for template {template_id!r}: bind it first "
                "(bind/profile_template)"
            )
        return profile

    async def edit(
        self,
        session: AsyncSession,
        *,
        project_id: uuid.UUID,
        template_id: str,
        subject: Subject,
        metadata: object | None,
        remove_fields: list[str],
    ) -> int:
        """Set, add, lock and remove fields of one profile (not its template); the values that
        changed. Removing a path the profile lacks does nothing (a repeated edit succeeds)."""
        if metadata is None and not remove_fields:
            raise RequiredFieldEmpty("metadata or remove_fields is required")
        specs = parse_tree(metadata, self.limits) if metadata is not None else []
        removals = [parse_path(p, self.limits, "remove_fields") for p in remove_fields]
        profile = await self._bound(session, project_id, template_id, subject)
        # A field given without a value keeps its value (a new one starts empty).
        current = {f.path: f.value for f in fields_of(profile.fields)}
        changes = [Change(path, None) for path in removals]
        changes += [
            Change(
                s.path,
                s.value if s.value is not None else current.get(s.path, ""),
                s.algorithm_updatable,
            )
            for s in specs
        ]
        return await write_fields(
            ProfileRepository(session),
            profile,
            changes,
            Origin(ProfileActor.CLIENT),
            max_fields=self.limits.max_fields,
        )

    async def delete(
        self, session: AsyncSession, *, project_id: uuid.UUID, template_id: str, subject: Subject
    ) -> bool:
        """Remove the subject's profile of this template; whether there was one."""
        template = await self.templates.get(session, project_id=project_id, template_id=template_id)
        repository = ProfileRepository(session)
        profile = await repository.profile(project_id, template.id, subject, lock=True)
        if profile is None:
            return False
        await repository.delete_profile(profile)
        return True

    async def of_subject(
        self, session: AsyncSession, *, project_id: uuid.UUID, subject: Subject
    ) -> list[Profile]:
        return await ProfileRepository(session).profiles_of(project_id, subject)
