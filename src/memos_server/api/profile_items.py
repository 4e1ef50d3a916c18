"""A profile in the two shapes responses show it: one item per filled field (search/memory,
the Cloud's ``SearchProfileDetail``) and one item per profile (get/memory,
``GetProfileMemoryDetail``)."""

from __future__ import annotations

import hashlib

from memos_server.api.schemas.profiles import ProfileDetail, ProfileFieldDetail
from memos_server.services.profiles.templates import template_key
from memos_server.services.profiles.trees import fields_of, tree
from memos_server.services.profiles.writer import now_iso
from memos_server.storage.models import Profile
from memos_server.storage.vocabulary import ProfileSubject


def profile_detail(profile: Profile) -> ProfileDetail:
    user = profile.subject_kind == ProfileSubject.USER
    return ProfileDetail(
        id=profile.id.hex,
        project_id=profile.project_id.hex,
        profile_template_id=template_key(profile.template_id),
        user_id=profile.subject_id if user else None,
        agent_id=None if user else profile.subject_id,
        properties=tree(fields_of(profile.fields)),
        created_at=now_iso(profile.created_at),
        updated_at=now_iso(profile.updated_at),
    )


def field_details(profile: Profile) -> list[ProfileFieldDetail]:
    """The profile's fields that hold a value, in the template's order."""
    created = now_iso(profile.created_at)
    items = []
    for f in fields_of(profile.fields):
        if not f.value.strip():
            continue
        digest = hashlib.sha256(f.dotted.encode()).hexdigest()[:12]
        items.append(
            ProfileFieldDetail(
                id=f"{profile.id.hex}_{digest}",
                memory=f"{f.dotted}: {f.value}",
                template_id=template_key(profile.template_id),
                profile_category=".".join(f.path[:-1]),
                profile_field=f.path[-1],
                profile_path=f.dotted,
                created_at=created,
                updated_at=f.updated_at or created,
                algorithm_updatable=f.algorithm_updatable,
            )
        )
    return items
