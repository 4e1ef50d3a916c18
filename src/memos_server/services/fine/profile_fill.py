"""Fine mode fills profiles: after an add, the model reads the conversation and gives new values
for the ``algorithm_updatable`` fields of the user's bound profiles (one call per profile that
has such fields; none when the user has no profile).

The model sees only the updatable fields, as "path: current value" lines, and may answer only
those paths: a path it makes up, an empty value or one equal to the current value is dropped,
and a value longer than ``MEMOS_PROFILES__MAX_VALUE_CHARS`` is cut. What it proposes is written
later, in the job's transaction, by ``services.profiles.writer`` with ``only_updatable``: a field
the client locked in the meantime keeps the client's value.

An answer that cannot be read even when asked again loses this profile's fill only (logged):
the add's facts and preferences are still applied. An unreachable model fails the job as
extraction does, to be retried.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.llm import LLM
from memos_server.llm.json_output import MalformedOutput, Usage, ask_json
from memos_server.prompts import Language, load_prompt
from memos_server.prompts.labels import EMPTY_FIELD
from memos_server.services.fine.extraction import render_conversation, usable_items
from memos_server.services.profiles.trees import fields_of
from memos_server.services.profiles.writer import Change, Origin, write_fields
from memos_server.storage.models import Profile
from memos_server.storage.repositories.profiles import ProfileRepository, Subject
from memos_server.storage.vocabulary import ProfileActor, ProfileSubject
from memos_server.text.windows import Turn

log = logging.getLogger(__name__)


class _Update(BaseModel):
    model_config = ConfigDict(extra="ignore")

    path: str = Field(validation_alias=AliasChoices("path", "路径", "field", "字段"))
    new_value: str = Field(validation_alias=AliasChoices("new_value", "memory_value", "新值", "值"))

    @field_validator("path", "new_value", mode="before")
    @classmethod
    def number_as_text(cls, value: Any) -> Any:
        """A number is kept as its text (an age of 30), as a client's field values are."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value


@dataclass(frozen=True)
class Fill:
    """The model's new values for one profile, and the prompt that asked for them."""

    profile_id: uuid.UUID
    changes: list[Change]
    prompt_version: str


def _read(value: Any) -> list[_Update]:
    """The usable updates: one the model got wrong is left out, not the others with it."""
    return usable_items(_Update, value, "updates")


def _lines(profile: Profile, language: Language) -> tuple[str, dict[str, tuple[str, ...]]]:
    updatable = [f for f in fields_of(profile.fields) if f.algorithm_updatable]
    lines = [f"- {f.dotted}: {f.value or EMPTY_FIELD[language]}" for f in updatable]
    return "\n".join(lines), {f.dotted: f.path for f in updatable}


async def fill_profiles(
    llm: LLM,
    turns: Sequence[Turn],
    language: Language,
    profiles: Sequence[Profile],
    *,
    max_value_chars: int,
    usage: Usage,
    zone: tzinfo = UTC,
) -> list[Fill]:
    """The model's new values for each profile with updatable fields (the turns' times on
    ``zone``'s clock)."""
    conversation = render_conversation(turns, zone)
    if not conversation.strip():
        return []
    prompt = load_prompt("profile", language)
    fills = []
    for profile in profiles:
        listed, paths = _lines(profile, language)
        if not paths:
            continue
        try:
            updates = await ask_json(
                llm, prompt.render(fields=listed, conversation=conversation), _read, usage
            )
        except MalformedOutput as error:
            log.warning("profile fill skipped, the answer was unusable: %s", error)
            continue
        current = {f.dotted: f.value for f in fields_of(profile.fields)}
        changes = []
        for update in updates:
            path = paths.get(update.path.strip())
            value = update.new_value.strip()[:max_value_chars]
            if path is None or not value or value == current.get(update.path.strip()):
                continue
            changes.append(Change(path, value))
        if changes:
            fills.append(Fill(profile.id, changes, prompt.version))
    return fills


async def bound_profiles(
    session: AsyncSession, project_id: uuid.UUID, user_id: str
) -> list[Profile]:
    """The user's profiles, which an add of theirs may fill."""
    subject = Subject(ProfileSubject.USER, user_id)
    return await ProfileRepository(session).profiles_of(project_id, subject)


async def write_fills(
    session: AsyncSession,
    fills: Sequence[Fill],
    *,
    task_id: uuid.UUID,
    source_ids: Sequence[int],
    max_fields: int,
) -> int:
    """Write the model's values in the job's transaction (locked fields and profiles deleted
    meanwhile are left alone); the values that changed, each with its history row."""
    repository = ProfileRepository(session)
    changed = 0
    for fill in fills:
        profile = await repository.profile_by_id(fill.profile_id, lock=True)
        if profile is None:
            continue  # delete/profile, a template's deletion or delete/user came first
        changed += await write_fields(
            repository,
            profile,
            fill.changes,
            Origin(ProfileActor.MODEL, task_id, tuple(source_ids)),
            max_fields=max_fields,
            only_updatable=True,
        )
    return changed
