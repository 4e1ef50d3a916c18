"""Liveness and readiness, for orchestrators and load balancers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from memos_server.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(runtime: RuntimeDep) -> JSONResponse | dict[str, str]:
    """The database answers and the embedding model is loaded."""
    try:
        async with runtime.database.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse(status_code=503, content={"status": "database unavailable"})
    if runtime.embedder is None:
        return JSONResponse(status_code=503, content={"status": "model not loaded"})
    return {"status": "ok"}
