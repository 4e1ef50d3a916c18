"""The response envelope and the base of every request model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator

from memos_server.api.schemas.input_rules import body_problem

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    code: int = 0
    message: str = "ok"
    data: T


class ErrorEnvelope(BaseModel):
    code: int
    message: str
    data: None = None


class MemosRequest(BaseModel):
    """Unknown fields are ignored and ``null`` means "use the default", as the SDK expects."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _null_is_default(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


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
    return None if moment is None else int(moment.timestamp() * 1000)


def wall_clock(moment: datetime | None) -> str | None:
    """``YYYY-MM-DD HH:MM:SS`` in UTC, the cloud's format for message times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
