"""The one writer of a profile's fields: every change (a client's edit, a template update carried
to its profiles, the model's fill) goes through ``write_fields``, which writes one
``profile_history`` row per value that changed (old value, new value, who, from which messages).

The model's changes are written with ``only_updatable``: a field the client locked
(``algorithm_updatable: false``) is never overwritten by it, and it adds no fields. The check is
made here, against the row as locked in the writing transaction, so an edit that locked a field
while the model was thinking wins.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from memos_server.errors import TooLong
from memos_server.services.profiles.trees import (
    Field,
    Path,
    check_leaf_conflicts,
    dotted,
    fields_of,
    stored_fields,
)
from memos_server.storage.models import Profile, ProfileHistory
from memos_server.storage.repositories.profiles import ProfileRepository
from memos_server.storage.vocabulary import ProfileActor


@dataclass(frozen=True)
class Change:
    """Set a field's value (``value`` None: remove the field, or every field under a category);
    ``algorithm_updatable`` None keeps the field's (a new field's is true)."""

    path: Path
    value: str | None
    algorithm_updatable: bool | None = None


@dataclass(frozen=True)
class Origin:
    actor: ProfileActor
    task_id: uuid.UUID | None = None
    source_ids: Sequence[int] = field(default_factory=tuple)


def now_iso(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).isoformat(timespec="seconds")


async def write_fields(
    repository: ProfileRepository,
    profile: Profile,
    changes: Sequence[Change],
    origin: Origin,
    *,
    max_fields: int,
    only_updatable: bool = False,
) -> int:
    """Apply the changes to the (locked) profile; the values that changed, each with history."""
    fields = fields_of(profile.fields)
    moment = datetime.now(UTC)
    stamp = now_iso(moment)
    history: list[tuple[str, str | None, str | None]] = []
    for change in changes:
        if change.value is None:
            if only_updatable:
                continue
            kept = [f for f in fields if f.path[: len(change.path)] != change.path]
            history += [(f.dotted, f.value, None) for f in fields if f not in kept]
            fields = kept
            continue
        at = next((i for i, f in enumerate(fields) if f.path == change.path), None)
        if at is None:
            if only_updatable:
                continue
            updatable = True if change.algorithm_updatable is None else change.algorithm_updatable
            fields.append(Field(change.path, change.value, updatable, stamp))
            history.append((dotted(change.path), None, change.value))
            continue
        current = fields[at]
        if only_updatable and not current.algorithm_updatable:
            continue
        updatable = (
            current.algorithm_updatable
            if change.algorithm_updatable is None
            else change.algorithm_updatable
        )
        if change.value == current.value and updatable == current.algorithm_updatable:
            continue
        fields[at] = Field(current.path, change.value, updatable, stamp)
        if change.value != current.value:
            history.append((current.dotted, current.value, change.value))
    check_leaf_conflicts(fields, "metadata")
    if len(fields) > max_fields:
        raise TooLong(f"the profile would hold {len(fields)} fields, more than {max_fields}")
    stored = stored_fields(fields)
    if stored != profile.fields:
        profile.fields = stored
        profile.updated_at = moment
    await repository.add_history(
        [
            ProfileHistory(
                project_id=profile.project_id,
                profile_id=profile.id,
                template_id=profile.template_id,
                subject_kind=profile.subject_kind,
                subject_id=profile.subject_id,
                path=path,
                actor=origin.actor,
                old_value=old,
                new_value=new,
                source_message_ids=list(origin.source_ids),
                task_id=origin.task_id,
            )
            for path, old, new in history
        ]
    )
    return len(history)


def template_changes(old: list[Field], new: list[Field]) -> list[Change]:
    """What a template update does to each bound profile (the Cloud's rule): a new field is
    filled with the template's value and setting, a field whose value or setting changed in the
    template is overwritten, a removed one is deleted; the rest stay as the profile has them."""
    before = {f.path: f for f in old}
    after = {f.path for f in new}
    # Removals first: a removed field "a" may come back as the category of a new "a.b".
    changes = [Change(f.path, None) for f in old if f.path not in after]
    changes += [
        Change(f.path, f.value, f.algorithm_updatable)
        for f in new
        if f.path not in before
        or (before[f.path].value, before[f.path].algorithm_updatable)
        != (f.value, f.algorithm_updatable)
    ]
    return changes
