"""healthz and readyz."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str = Field(description='"ok", or what is not ready yet.')
