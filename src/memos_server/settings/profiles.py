"""Settings of profiles (``MEMOS_PROFILES__*``), reached through ``Settings.profiles``: how large
a template, a profile and a project's set of templates may grow (``docs/profiles.md``)."""

from __future__ import annotations

from pydantic import Field

from memos_server.settings.group import Group


class ProfileSettings(Group):
    max_templates: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Profile templates one project may hold; add/profile_template beyond it: 400.",
    )
    max_fields: int = Field(
        default=100,
        ge=1,
        le=1_000,
        description="Fields of one template or one profile (edit/profile adds fields too); "
        "beyond it: 413.",
    )
    max_name_chars: int = Field(
        default=100,
        ge=1,
        le=1_000,
        description="Characters of a template's name and of each category or field name; "
        "beyond it: 413.",
    )
    max_value_chars: int = Field(
        default=1_000,
        ge=1,
        le=100_000,
        description="Characters of one field's value (a template's default, a client's edit, "
        "the model's fill: a longer fill is cut here); beyond it: 413.",
    )
