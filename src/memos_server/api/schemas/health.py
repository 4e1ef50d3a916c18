"""healthz and readyz."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str = Field(description='"ok", or what is not ready yet.')


class ReplicaHealth(BaseModel):
    replica: int = Field(description="Its place in MEMOS_DATABASE__READ_URLS, from 1.")
    up: bool = Field(description="Its last check passed: it takes reads.")
    lag_bytes: int | None = Field(
        description="WAL the primary wrote that it has not replayed yet (null: not known)."
    )
    lag_s: float | None = Field(
        description="Seconds since the last commit it replayed, when it is behind; 0 when not."
    )


class Readiness(Health):
    replicas: list[ReplicaHealth] | None = Field(
        default=None,
        description="The read replicas, if any are configured. One that is down does not make "
        "the service unready: its reads go to the primary.",
    )
