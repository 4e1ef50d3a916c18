"""Profiles on the wire: the template endpoints, bind/edit/delete profile, and the two item
shapes profiles take in search/memory (one per field) and get/memory (one per profile)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memos_server.api.schemas.common import Id, TopLevelRequest

PROFILE_VIEW = "profile"  # the Cloud's memory view of profiles (include_memory_view)
MAX_BINDINGS = 20  # the Cloud's "up to 20 per request"
MAX_TEMPLATE_PAGE = 100


def wants_profiles(views: list[str] | None, *, default: bool) -> bool:
    """Whether a request's include_memory_view asks for profiles (unset: ``default``)."""
    return default if views is None else PROFILE_VIEW in views


_TREE = (
    "Up to three levels of names whose leaves are fields "
    '{"value": "...", "algorithm_updatable": true}; categories are optional.'
)
_EXAMPLE_TREE: dict[str, Any] = {
    "基本信息": {
        "姓名": {"value": "", "algorithm_updatable": False},
        "职业": {"value": "", "algorithm_updatable": True},
        "所在城市": {"value": "", "algorithm_updatable": True},
    },
    "兴趣爱好": {"爱好": {"value": "", "algorithm_updatable": True}},
}


class AddProfileTemplateRequest(TopLevelRequest):
    name: str = Field(min_length=1, description="The template's name (not blank).")
    metadata: dict[str, Any] = Field(description=_TREE)

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "客服用户画像", "metadata": _EXAMPLE_TREE}]}
    )


class AddProfileTemplateData(BaseModel):
    profile_template_id: str


class ListProfileTemplateRequest(TopLevelRequest):
    page: int = Field(default=1, ge=1, description="Page number, from 1.")
    size: int = Field(default=10, ge=1, le=MAX_TEMPLATE_PAGE, description="Templates per page.")


class ProfileTemplateSummary(BaseModel):
    profile_template_id: str
    name: str
    project_id: str
    instance_count: int = Field(description="Profiles bound to the template.")
    create_time: str
    update_time: str


class ProfileTemplateDetail(ProfileTemplateSummary):
    metadata: dict[str, Any]


class ListProfileTemplateData(BaseModel):
    profile_templates: list[ProfileTemplateSummary]
    total: int
    current: int
    size: int
    pages: int


class ProfileTemplateIdRequest(TopLevelRequest):
    profile_template_id: Id = Field(min_length=1)


class GetProfileTemplateData(BaseModel):
    profile_template: ProfileTemplateDetail


class UpdateProfileTemplateRequest(ProfileTemplateIdRequest):
    name: str = Field(min_length=1)
    metadata: dict[str, Any] = Field(description=_TREE)


class UpdateProfileTemplateData(BaseModel):
    success: bool
    profile_template_id: str
    affected_instances: int = Field(description="Bound profiles the update was carried to.")


class DeleteProfileTemplateData(BaseModel):
    success: bool
    profile_template_id: str
    deleted_instances: int


class BindItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    profile_template_id: Id = Field(min_length=1)
    user_id: Id | None = None
    agent_id: Id | None = None


class BindProfileTemplateRequest(TopLevelRequest):
    bind_list: list[BindItem] = Field(min_length=1, max_length=MAX_BINDINGS)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"bind_list": [{"user_id": "memos_user_123", "profile_template_id": "tpl_..."}]}
            ]
        }
    )


class SuccessData(BaseModel):
    success: bool


class EditProfileRequest(ProfileTemplateIdRequest):
    user_id: Id | None = Field(default=None, min_length=1)
    agent_id: Id | None = Field(default=None, min_length=1)
    metadata: dict[str, Any] | None = Field(
        default=None, description="Fields to set or add (this profile only). " + _TREE
    )
    remove_fields: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description='Paths to remove, e.g. ["基本信息.职业"]; a category path removes its fields.',
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "memos_user_123",
                    "profile_template_id": "tpl_...",
                    "metadata": {
                        "基本信息": {"所在城市": {"value": "上海", "algorithm_updatable": False}}
                    },
                }
            ]
        }
    )


class DeleteProfileRequest(ProfileTemplateIdRequest):
    user_id: Id | None = Field(default=None, min_length=1)
    agent_id: Id | None = Field(default=None, min_length=1)


class ProfileFieldDetail(BaseModel):
    """One filled field of a profile, as search/memory lists it (profile_detail_list)."""

    id: str
    memory: str = Field(description='"<path>: <value>".')
    memory_type: Literal["ProfileMemory"] = "ProfileMemory"
    template_id: str
    profile_category: str = Field(description="The names above the field, joined by '.'.")
    profile_field: str
    profile_path: str
    status: Literal["activated"] = "activated"
    created_at: str
    updated_at: str
    confidence: float = 1.0
    relativity: float | None = Field(
        default=None, description="Not ranked: every filled field of the profiles is returned."
    )
    algorithm_updatable: bool


class ProfileDetail(BaseModel):
    """One profile, as get/memory lists it (profile_detail_list)."""

    id: str
    project_id: str
    profile_template_id: str
    user_id: str | None
    agent_id: str | None
    properties: dict[str, Any] = Field(description="The fields, in the template's tree shape.")
    status: Literal["activated"] = "activated"
    created_at: str
    updated_at: str
