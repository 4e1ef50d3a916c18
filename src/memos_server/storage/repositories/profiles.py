"""Profile templates, the profiles bound to them and the history of their fields.

A template and its profiles are changed under a row lock (``FOR UPDATE``): an update of a
template rewrites every profile bound to it, and an edit, a bind or a fine job's fill of one
profile must not interleave with it. A subject's profiles are found through
``ix_profiles_subject``; a template's through the unique key that starts with ``template_id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.models import Profile, ProfileHistory, ProfileTemplate


@dataclass(frozen=True)
class Subject:
    """Whose profile: ``kind`` a ``ProfileSubject`` word, ``id`` the user's or agent's id."""

    kind: str
    id: str


class ProfileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Templates.
    async def count_templates(self, project_id: uuid.UUID) -> int:
        statement = select(func.count()).where(ProfileTemplate.project_id == project_id)
        return int(await self.session.scalar(statement) or 0)

    async def add(self, row: ProfileTemplate | Profile | ProfileHistory) -> None:
        self.session.add(row)
        await self.session.flush()

    async def template(
        self,
        project_id: uuid.UUID,
        template_id: uuid.UUID,
        *,
        lock: bool = False,
        share: bool = False,
    ) -> ProfileTemplate | None:
        """The project's template; ``lock``: for an update or a deletion; ``share``: kept from
        both while a bind uses it (binds of it do not wait for each other)."""
        statement = select(ProfileTemplate).where(
            ProfileTemplate.id == template_id, ProfileTemplate.project_id == project_id
        )
        if lock:
            statement = statement.with_for_update()
        elif share:
            statement = statement.with_for_update(key_share=True)
        row: ProfileTemplate | None = await self.session.scalar(statement)
        return row

    async def templates_page(
        self, project_id: uuid.UUID, offset: int, limit: int
    ) -> list[ProfileTemplate]:
        statement = (
            select(ProfileTemplate)
            .where(ProfileTemplate.project_id == project_id)
            .order_by(ProfileTemplate.created_at.desc(), ProfileTemplate.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list(await self.session.scalars(statement))

    async def instance_counts(self, template_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        if not template_ids:
            return {}
        statement = (
            select(Profile.template_id, func.count())
            .where(Profile.template_id.in_(template_ids))
            .group_by(Profile.template_id)
        )
        counts = {tid: 0 for tid in template_ids}
        for template_id, count in await self.session.execute(statement):
            counts[template_id] = int(count)
        return counts

    async def delete_template(self, template: ProfileTemplate) -> None:
        # Its profiles go with it (ON DELETE CASCADE); their history stays until delete/user.
        await self.session.delete(template)
        await self.session.flush()

    # Profiles.
    async def profiles_of_template(self, template_id: uuid.UUID) -> list[Profile]:
        statement = (
            select(Profile)
            .where(Profile.template_id == template_id)
            .order_by(Profile.created_at, Profile.id)
            .with_for_update()
        )
        return list(await self.session.scalars(statement))

    async def profile(
        self,
        project_id: uuid.UUID,
        template_id: uuid.UUID,
        subject: Subject,
        *,
        lock: bool = False,
    ) -> Profile | None:
        statement = select(Profile).where(
            Profile.project_id == project_id,
            Profile.template_id == template_id,
            Profile.subject_kind == subject.kind,
            Profile.subject_id == subject.id,
        )
        if lock:
            statement = statement.with_for_update()
        row: Profile | None = await self.session.scalar(statement)
        return row

    async def profile_by_id(self, profile_id: uuid.UUID, *, lock: bool = False) -> Profile | None:
        statement = select(Profile).where(Profile.id == profile_id)
        if lock:
            statement = statement.with_for_update()
        row: Profile | None = await self.session.scalar(statement)
        return row

    async def profiles_of(
        self, project_id: uuid.UUID, subject: Subject, *, lock: bool = False
    ) -> list[Profile]:
        """The subject's profiles, oldest bound first."""
        statement = (
            select(Profile)
            .where(
                Profile.project_id == project_id,
                Profile.subject_kind == subject.kind,
                Profile.subject_id == subject.id,
            )
            .order_by(Profile.created_at, Profile.id)
        )
        if lock:
            statement = statement.with_for_update()
        return list(await self.session.scalars(statement))

    async def bind(self, profile: Profile) -> bool:
        """Insert the profile unless its subject is bound to the template already (a concurrent
        bind of the same pair included); whether it was inserted."""
        statement = (
            insert(Profile)
            .values(
                id=profile.id,
                project_id=profile.project_id,
                template_id=profile.template_id,
                subject_kind=profile.subject_kind,
                subject_id=profile.subject_id,
                fields=profile.fields,
            )
            .on_conflict_do_nothing(constraint="uq_profiles_template_subject")
            .returning(Profile.id)
        )
        return await self.session.scalar(statement) is not None

    async def delete_profile(self, profile: Profile) -> None:
        await self.session.delete(profile)
        await self.session.flush()

    # History.
    async def add_history(self, rows: Sequence[ProfileHistory]) -> None:
        self.session.add_all(rows)
        await self.session.flush()

    async def history(self, profile_id: uuid.UUID) -> list[ProfileHistory]:
        statement = (
            select(ProfileHistory)
            .where(ProfileHistory.profile_id == profile_id)
            .order_by(ProfileHistory.id)
        )
        return list(await self.session.scalars(statement))

    async def forget_subject(self, project_id: uuid.UUID, subject: Subject) -> dict[str, int]:
        """Delete the subject's profiles and every history row naming them (delete/user)."""
        profiles = await self.session.execute(
            delete(Profile).where(
                Profile.project_id == project_id,
                Profile.subject_kind == subject.kind,
                Profile.subject_id == subject.id,
            )
        )
        history = await self.session.execute(
            delete(ProfileHistory).where(
                ProfileHistory.project_id == project_id,
                ProfileHistory.subject_kind == subject.kind,
                ProfileHistory.subject_id == subject.id,
            )
        )
        return {
            "profiles": int(getattr(profiles, "rowcount", 0) or 0),
            "profile_history": int(getattr(history, "rowcount", 0) or 0),
        }
