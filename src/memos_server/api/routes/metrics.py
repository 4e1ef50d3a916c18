"""Prometheus metrics, unauthenticated like the health checks: keep the port off the internet."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from memos_server import metrics
from memos_server.api.deps import RuntimeDep
from memos_server.services.jobs.handlers import KINDS, read_backlog
from memos_server.services.reindex import read_reindex

router = APIRouter(tags=["health"])

# A scrape waits this long for the job-queue numbers, then answers without them.
BACKLOG_TIMEOUT_S = 2.0


@router.get(
    "/metrics", response_class=Response, summary="Prometheus metrics", operation_id="metrics"
)
async def prometheus_metrics(runtime: RuntimeDep) -> Response:
    """Request latencies, LLM and embedding calls, the job queue and a reindex under way, in
    Prometheus' text format."""
    backlog = await read_backlog(runtime.database, BACKLOG_TIMEOUT_S)
    reindex = await read_reindex(runtime.database, BACKLOG_TIMEOUT_S)
    return Response(metrics.render(backlog, KINDS, reindex), media_type=metrics.CONTENT_TYPE_LATEST)
