"""Liveness and readiness, for orchestrators and load balancers."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from memos_server.api.deps import RuntimeDep
from memos_server.api.schemas.health import Health, Readiness, ReplicaHealth

router = APIRouter(tags=["health"])

_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": Health, "description": "The database or the embedding model is not ready."}
}


@router.get("/healthz", response_model=Health, summary="Liveness", operation_id="healthz")
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


# A probe that hangs is worse than one that fails: orchestrators time probes out after a second or
# a few, and a hung database must read as "not ready", not as a hung process.
READY_TIMEOUT_S = 2.0


@router.get(
    "/readyz",
    response_model=Readiness,
    response_model_exclude_unset=True,
    responses=_NOT_READY,
    summary="Readiness",
    operation_id="readyz",
)
async def readyz(runtime: RuntimeDep) -> Readiness | JSONResponse:
    """The database answers and the embedding model is loaded; with read replicas, each one's
    state (up, how far behind)."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), runtime.database.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse(status_code=503, content={"status": "database unavailable"})
    if runtime.embedder is None:
        return JSONResponse(status_code=503, content={"status": "model not loaded"})
    if runtime.replicas is None:
        return Readiness(status="ok")
    replicas = [ReplicaHealth(**vars(status)) for status in runtime.replicas.statuses()]
    return Readiness(status="ok", replicas=replicas)
