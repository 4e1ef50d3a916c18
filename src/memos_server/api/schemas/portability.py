"""The admin API's export and import (``docs/export.md``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ImportAnswer(BaseModel):
    project: str
    created: bool = Field(description="The project was made by this import.")
    added: dict[str, int] = Field(description="Records stored, by kind.")
    skipped: dict[str, int] = Field(description="Records already stored (an earlier import).")
    embedded: int = Field(description="Memories and passages embedded with this model.")
    message_base: int = Field(description="An exported message n is message_id base + n here.")
