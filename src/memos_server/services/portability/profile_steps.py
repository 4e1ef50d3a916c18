"""The import's profile steps (format version 3): templates, then profiles with their history.

Ids are kept or derived as for every record (``steps.ImportSteps._ids``). A profile names a
template of the file or of the project; a subject already bound to that template here keeps its
profile (the one in the file is skipped, as a record already stored), so importing a file twice,
or into a project that has bound the same user since, stores one profile per subject and
template. History rows come with a profile stored by this import only.
"""

from __future__ import annotations

import uuid

from memos_server.services.portability.format import (
    FormatError,
    ProfileFieldRow,
    ProfileRecord,
    ProfileTemplateRecord,
)
from memos_server.services.portability.steps import ImportSteps, Numbered
from memos_server.storage.models import Profile, ProfileHistory, ProfileTemplate, Task


class ProfileSteps(ImportSteps):
    async def _profile_templates(self, batch: Numbered[ProfileTemplateRecord]) -> None:
        await self._store_new(
            ProfileTemplate,
            batch,
            lambda r, id_: ProfileTemplate(
                id=id_,
                project_id=self.project_id,
                name=r.name,
                fields=_stored(r.fields),
                created_at=r.created_at,
                updated_at=r.updated_at,
            ),
        )

    async def _profiles(self, batch: Numbered[ProfileRecord]) -> None:
        ids = await self._ids(Profile, [r.id for _, r, _ in batch])
        templates = await self._ids(ProfileTemplate, list({r.template_id for _, r, _ in batch}))
        for number, r, _ in batch:
            if not templates[r.template_id][1]:
                raise FormatError(
                    f"line {number}: profile names template {r.template_id}, which neither the "
                    "file's profile_template records nor the project hold"
                )
        bound = await self.repo.bound_subjects([t for t, _ in templates.values()])
        todo: list[tuple[ProfileRecord, uuid.UUID, uuid.UUID]] = []
        for _, r, _ in batch:
            template = templates[r.template_id][0]
            subject = (template, r.subject_kind, r.subject_id)
            if not ids[r.id][1] and subject not in bound:
                bound.add(subject)
                todo.append((r, ids[r.id][0], template))
        base = self.result.message_base
        messages = await self.repo.messages_by_number(
            self.project_id,
            {base + n for r, _, _ in todo for h in r.history for n in h.source_messages},
        )
        tasks = await self._targets(Task, {h.task_id for r, _, _ in todo for h in r.history})
        new: list[object] = []
        for r, id_, template in todo:
            new.append(
                Profile(
                    id=id_,
                    project_id=self.project_id,
                    template_id=template,
                    subject_kind=r.subject_kind,
                    subject_id=r.subject_id,
                    fields=_stored(r.fields),
                    created_at=r.created_at,
                    updated_at=r.updated_at,
                )
            )
            new.extend(
                ProfileHistory(
                    project_id=self.project_id,
                    profile_id=id_,
                    template_id=template,
                    subject_kind=r.subject_kind,
                    subject_id=r.subject_id,
                    path=h.path,
                    actor=h.actor,
                    old_value=h.old_value,
                    new_value=h.new_value,
                    source_message_ids=self._sources(h.source_messages, messages),
                    task_id=tasks.get(h.task_id) if h.task_id else None,
                    created_at=h.created_at,
                )
                for h in r.history
            )
        await self.repo.store(new)  # type: ignore[arg-type]
        self.result.count("profile", len(todo), len(batch) - len(todo))


def _stored(fields: list[ProfileFieldRow]) -> list[dict[str, object]]:
    """The fields as the profile services keep them (the keys the file gave)."""
    return [f.model_dump(exclude_unset=True) for f in fields]
