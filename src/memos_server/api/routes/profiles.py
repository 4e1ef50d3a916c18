"""Profiles: add/list/get/update/delete profile_template, bind/profile_template, edit/profile,
delete/profile (docs/profiles.md)."""

from __future__ import annotations

from fastapi import APIRouter

from memos_server.api.deps import (
    ProfilesDep,
    ProjectDep,
    RuntimeDep,
    SessionDep,
    SettingsDep,
    TemplatesDep,
)
from memos_server.api.responses import ERRORS, NOT_FOUND
from memos_server.api.schemas.common import Envelope
from memos_server.api.schemas.profiles import (
    AddProfileTemplateData,
    AddProfileTemplateRequest,
    BindProfileTemplateRequest,
    DeleteProfileRequest,
    DeleteProfileTemplateData,
    EditProfileRequest,
    GetProfileTemplateData,
    ListProfileTemplateData,
    ListProfileTemplateRequest,
    ProfileTemplateDetail,
    ProfileTemplateIdRequest,
    ProfileTemplateSummary,
    SuccessData,
    UpdateProfileTemplateData,
    UpdateProfileTemplateRequest,
)
from memos_server.services.profiles.instances import Binding, subject_of
from memos_server.services.profiles.templates import TemplateCount, template_key
from memos_server.services.profiles.trees import fields_of, tree
from memos_server.services.profiles.writer import now_iso

router = APIRouter(tags=["profiles"], responses={**ERRORS, **NOT_FOUND})


def summary(counted: TemplateCount) -> ProfileTemplateSummary:
    t = counted.template
    return ProfileTemplateSummary(
        profile_template_id=template_key(t.id),
        name=t.name,
        project_id=t.project_id.hex,
        instance_count=counted.instances,
        create_time=now_iso(t.created_at),
        update_time=now_iso(t.updated_at),
    )


@router.post(
    "/add/profile_template",
    response_model=Envelope[AddProfileTemplateData],
    summary="Create a profile template",
    operation_id="add_profile_template",
)
async def add_profile_template(
    body: AddProfileTemplateRequest,
    project: ProjectDep,
    session: SessionDep,
    templates: TemplatesDep,
) -> Envelope[AddProfileTemplateData]:
    """A new template of this key's project: its fields, their defaults and which the model may
    fill (``algorithm_updatable``, true when left out)."""
    template = await templates.add(
        session, project_id=project, name=body.name, metadata=body.metadata
    )
    return Envelope(data=AddProfileTemplateData(profile_template_id=template_key(template.id)))


@router.post(
    "/list/profile_template",
    response_model=Envelope[ListProfileTemplateData],
    summary="List profile templates",
    operation_id="list_profile_template",
)
async def list_profile_template(
    body: ListProfileTemplateRequest,
    project: ProjectDep,
    session: SessionDep,
    templates: TemplatesDep,
) -> Envelope[ListProfileTemplateData]:
    """The project's templates a page at a time, newest first."""
    page = await templates.page(session, project_id=project, page=body.page, size=body.size)
    return Envelope(
        data=ListProfileTemplateData(
            profile_templates=[summary(c) for c in page.items],
            total=page.total,
            current=body.page,
            size=body.size,
            pages=(page.total + body.size - 1) // body.size,
        )
    )


@router.post(
    "/get/profile_template",
    response_model=Envelope[GetProfileTemplateData],
    summary="Get a profile template",
    operation_id="get_profile_template",
)
async def get_profile_template(
    body: ProfileTemplateIdRequest,
    project: ProjectDep,
    session: SessionDep,
    templates: TemplatesDep,
) -> Envelope[GetProfileTemplateData]:
    """The template's fields as a tree, and how many profiles are bound to it."""
    counted = await templates.detail(
        session, project_id=project, template_id=body.profile_template_id
    )
    detail = ProfileTemplateDetail(
        **summary(counted).model_dump(), metadata=tree(fields_of(counted.template.fields))
    )
    return Envelope(data=GetProfileTemplateData(profile_template=detail))


@router.post(
    "/update/profile_template",
    response_model=Envelope[UpdateProfileTemplateData],
    summary="Update a profile template",
    operation_id="update_profile_template",
)
async def update_profile_template(
    body: UpdateProfileTemplateRequest,
    project: ProjectDep,
    session: SessionDep,
    templates: TemplatesDep,
    runtime: RuntimeDep,
) -> Envelope[UpdateProfileTemplateData]:
    """Rename and restructure the template; carried to every bound profile: new fields come
    with the template's value, changed ones overwrite, removed ones go, the rest stay."""
    affected = await templates.update(
        session,
        project_id=project,
        template_id=body.profile_template_id,
        name=body.name,
        metadata=body.metadata,
    )
    runtime.reads.wrote(project, None)  # its bound profiles, any user's
    return Envelope(
        data=UpdateProfileTemplateData(
            success=True,
            profile_template_id=body.profile_template_id,
            affected_instances=affected,
        )
    )


@router.post(
    "/delete/profile_template",
    response_model=Envelope[DeleteProfileTemplateData],
    summary="Delete a profile template",
    operation_id="delete_profile_template",
)
async def delete_profile_template(
    body: ProfileTemplateIdRequest,
    project: ProjectDep,
    session: SessionDep,
    templates: TemplatesDep,
    runtime: RuntimeDep,
) -> Envelope[DeleteProfileTemplateData]:
    """The template and every profile bound to it."""
    deleted = await templates.delete(
        session, project_id=project, template_id=body.profile_template_id
    )
    runtime.reads.wrote(project, None)  # its bound profiles, any user's
    return Envelope(
        data=DeleteProfileTemplateData(
            success=True, profile_template_id=body.profile_template_id, deleted_instances=deleted
        )
    )


@router.post(
    "/bind/profile_template",
    response_model=Envelope[SuccessData],
    summary="Bind profile templates to users or agents",
    operation_id="bind_profile_template",
)
async def bind_profile_template(
    body: BindProfileTemplateRequest,
    project: ProjectDep,
    session: SessionDep,
    profiles: ProfilesDep,
    runtime: RuntimeDep,
) -> Envelope[SuccessData]:
    """Give each user (or agent) a profile of the template, with the template's values; a
    binding that exists keeps its profile. All or none: one unknown template fails them all."""
    await profiles.bind(
        session,
        project_id=project,
        bindings=[
            Binding(b.profile_template_id, user_id=b.user_id, agent_id=b.agent_id)
            for b in body.bind_list
        ],
    )
    for b in body.bind_list:
        runtime.reads.wrote(project, b.user_id)
    return Envelope(data=SuccessData(success=True))


@router.post(
    "/edit/profile",
    response_model=Envelope[SuccessData],
    summary="Edit a profile",
    operation_id="edit_profile",
)
async def edit_profile(
    body: EditProfileRequest,
    project: ProjectDep,
    session: SessionDep,
    profiles: ProfilesDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
) -> Envelope[SuccessData]:
    """Set, add or remove fields of one profile, or lock them against the model
    (``algorithm_updatable: false``); the template and other profiles are not changed."""
    await profiles.edit(
        session,
        project_id=project,
        template_id=body.profile_template_id,
        subject=subject_of(settings, body.user_id, body.agent_id),
        metadata=body.metadata,
        remove_fields=body.remove_fields,
    )
    runtime.reads.wrote(project, body.user_id)
    return Envelope(data=SuccessData(success=True))


@router.post(
    "/delete/profile",
    response_model=Envelope[SuccessData],
    summary="Delete a profile",
    operation_id="delete_profile",
)
async def delete_profile(
    body: DeleteProfileRequest,
    project: ProjectDep,
    session: SessionDep,
    profiles: ProfilesDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
) -> Envelope[SuccessData]:
    """Remove the user's (or agent's) profile of the template, values and binding; the template
    stays. No such profile: nothing to do."""
    await profiles.delete(
        session,
        project_id=project,
        template_id=body.profile_template_id,
        subject=subject_of(settings, body.user_id, body.agent_id),
    )
    runtime.reads.wrote(project, body.user_id)
    return Envelope(data=SuccessData(success=True))
