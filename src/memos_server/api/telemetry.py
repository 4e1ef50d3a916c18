"""Per request: an id for its log lines and its response, its duration for /metrics, one access
log line.

The app wraps even Starlette's own error middleware in this one (see ``app.App``), so the 500
that middleware renders is timed and carries the id like every other response. A pure ASGI
middleware, not ``BaseHTTPMiddleware``: it adds a few microseconds, not a task per request.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memos_server.logs import request_id
from memos_server.metrics import observe_request

HEADER = b"x-request-id"
# A client's id is kept only if it is short and plain, so it is safe in logs and headers.
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# Any other method is one label value, so clients cannot invent new time series.
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
# Probes and scrapes arrive every few seconds; their lines are written at debug only.
_PROBES = frozenset({"/healthz", "/readyz", "/metrics"})

access = logging.getLogger("memos_server.access")


def _given_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == HEADER:
            given = value.decode("latin-1")
            return given if _SANE_ID.fullmatch(given) else None
    return None


def route_template(scope: Scope) -> str:
    """The matched route's path as declared (``/api/openmem/v1/get/memory/{memory_id}``), never
    the raw path, so unknown paths and ids add no time series; ``unmatched`` if no route matched.

    Rebuilt from the path and its parameters: an included router's route object knows only its
    own part of the path in recent FastAPI versions, not the prefix it was included under.
    """
    if "route" not in scope:
        # FastAPI names no route for a mount (the console's files): the mount, never the file.
        mounted = scope.get("root_path", "")
        return f"{mounted}/{{path}}" if mounted != scope.get("app_root_path", "") else "unmatched"
    # Each parameter's value, replaced from the end, where parameters sit. A label must never
    # hold what a client chose: a value that cannot be placed gives up.
    template: str = scope["path"]
    for name, value in (scope.get("path_params") or {}).items():
        text = str(value)
        found = list(re.finditer(rf"(?<=/){re.escape(text)}(?=/|$)", template)) if text else []
        if not found:
            return "unmatched"
        last = found[-1]
        template = f"{template[: last.start()]}{{{name}}}{template[last.end() :]}"
    return template


class RequestTelemetry:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        current = _given_id(scope) or uuid.uuid4().hex
        token = request_id.set(current)
        header = (HEADER, current.encode("latin-1"))
        status = 500  # if the app fails before it answers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            route = route_template(scope)
            observe_request(method, route, status, seconds)
            level = logging.DEBUG if scope["path"] in _PROBES else logging.INFO
            if access.isEnabledFor(level):
                duration_ms = round(seconds * 1000, 2)
                access.log(
                    level,
                    "%s %s %d %.1f ms",
                    method,
                    scope["path"],
                    status,
                    duration_ms,
                    extra={
                        "method": method,
                        "route": route,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": duration_ms,
                    },
                )
            request_id.reset(token)
