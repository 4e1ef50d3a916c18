"""The response envelope and the base of every request model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    code: int = 0
    message: str = "ok"
    data: T


class ErrorEnvelope(BaseModel):
    code: int
    message: str
    data: None = None


def find_nul(value: Any, path: str = "") -> str | None:
    """The path of the first string holding U+0000, which Postgres cannot store in text."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items: Any = ()
    if isinstance(value, dict):
        items = ((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
    for item_path, item in items:
        found = find_nul(item, item_path)
        if found is not None:
            return found
    return None


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
    """A whole request body: also refuses NUL characters anywhere in it, with their path."""

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        where = find_nul(data)
        if where is not None:
            raise ValueError(f"{where or 'body'} contains a NUL character (\\u0000)")
        return data


def epoch_ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def wall_clock(moment: datetime | None) -> str | None:
    """``YYYY-MM-DD HH:MM:SS`` in UTC, the cloud's format for message times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
