"""The response envelope and the base of every request model."""

from __future__ import annotations

import types
from datetime import datetime, timedelta
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from memos_server.api.schemas.input_rules import body_problem
from memos_server.times import EARLIEST as EPOCH
from memos_server.times import utc

T = TypeVar("T")

# Empty (which a required id's min_length refuses) or holding something besides white space.
NOT_BLANK = r"^$|\S"
# An id a client names: user_id, conversation_id, agent_id, app_id, a memory's or a task's id.
# One of white space only ("   ", "\u3000") would name a user, or a scope, nobody can see.
Id = Annotated[str, StringConstraints(pattern=NOT_BLANK)]
# An id in a list (the users of a group add, memory ids, base ids): never empty either.
ListedId = Annotated[str, StringConstraints(min_length=1, pattern=NOT_BLANK)]


def _absent_if_empty(value: Any) -> Any:
    return None if value == "" else value


# An optional id that is stored (an add's agent_id, app_id, source, a message's role_id): empty
# is the same as absent (null), so that nothing is stored under an id ("") that reads refuse.
OptionalId = Annotated[Id | None, BeforeValidator(_absent_if_empty)]


class Envelope(BaseModel, Generic[T]):
    code: int = 0
    message: str = "ok"
    data: T


class ErrorEnvelope(BaseModel):
    code: int
    message: str
    data: None = None


def _is_number(annotation: Any) -> bool:
    """``int``, ``float``, or either or none of them (``int | None``)."""
    members = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else ()
    # A member may carry constraints of its own (``Annotated[int, Field(ge=1)] | None``).
    kinds = {
        get_args(m)[0] if get_origin(m) is Annotated else m
        for m in members or (annotation,)
        if m is not type(None)
    }
    return bool(kinds) and kinds <= {int, float}


class MemosRequest(BaseModel):
    """Unknown fields are ignored and ``null`` means "use the default", as the SDK expects."""

    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_not_booleans(cls, value: Any, info: ValidationInfo) -> Any:
        """``true`` is no number: pydantic would read it as 1 (a relativity of 1, a TTL of a
        day)."""
        name = info.field_name
        if isinstance(value, bool) and name and _is_number(cls.model_fields[name].annotation):
            raise ValueError("must be a number, not true or false")
        return value

    @model_validator(mode="before")
    @classmethod
    def _null_is_default(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Say in OpenAPI what ``_null_is_default`` does: every optional field may be null."""
        json_schema = handler.resolve_ref_schema(handler(core_schema))
        required = set(json_schema.get("required", ()))
        for name, field in json_schema.get("properties", {}).items():
            if name not in required:
                json_schema["properties"][name] = _nullable(field)
        return json_schema


_ANNOTATIONS = ("title", "description", "default", "examples", "deprecated")


def _nullable(field: dict[str, Any]) -> dict[str, Any]:
    if field.get("type") == "null" or {"type": "null"} in field.get("anyOf", []):
        return field
    annotations = {key: value for key, value in field.items() if key in _ANNOTATIONS}
    value = {key: item for key, item in field.items() if key not in _ANNOTATIONS}
    branches = value["anyOf"] if set(value) == {"anyOf"} else [value]
    return {"anyOf": [*branches, {"type": "null"}], **annotations}


class TopLevelRequest(MemosRequest):
    """A whole request body: also held to the input rules (``input_rules``) everywhere in it."""

    @model_validator(mode="before")
    @classmethod
    def _input_rules(cls, data: Any) -> Any:
        problem = body_problem(data)
        if problem is not None:
            raise ValueError(problem)
        return data


def epoch_ms(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return (utc(moment) - EPOCH) // timedelta(milliseconds=1)


def wall_clock(moment: datetime | None) -> str | None:
    """``YYYY-MM-DD HH:MM:SS`` in UTC, the cloud's format for message times."""
    if moment is None:
        return None
    # isoformat, unlike strftime, writes a year before 1000 with four digits.
    return utc(moment).isoformat(sep=" ", timespec="seconds")[:19]
