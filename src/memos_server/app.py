"""The FastAPI application: routes, error envelope, and the runtime built in ``lifespan``."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import Route
from starlette.types import ASGIApp

from memos_server import __version__, heap
from memos_server.api.body_limit import BodyLimit
from memos_server.api.docs import install_api_docs
from memos_server.api.errors import AnsweredErrors, install_error_handlers
from memos_server.api.key_first import KeyFirst
from memos_server.api.routes import (
    admin,
    chat,
    console,
    extract,
    feedback,
    forget,
    health,
    knowledge,
    memories,
    messages,
    metrics,
    ping,
    portability,
    profiles,
    rerank,
    search,
    tasks,
)
from memos_server.api.routes.portability import IMPORT_PATH
from memos_server.api.telemetry import RequestTelemetry
from memos_server.console import ConsoleFiles
from memos_server.logs import configure_logging
from memos_server.mcp.http import MCP_PATH, McpEndpoint
from memos_server.runtime import Runtime, open_runtime
from memos_server.services.apikeys import Bootstrap, NewKey, ensure_bootstrap_key
from memos_server.settings import Settings, get_settings

API_PREFIX = "/api/openmem/v1"
CONSOLE_PATH = "/console"

log = logging.getLogger(__name__)


def announce_key(key: NewKey, base_url: str) -> None:
    # Printed once, to the terminal, never to a log: the key is not stored anywhere readable.
    print(
        "\n"
        f"  memos-server: a new API key for project {key.project!r} (shown only this once):\n\n"
        f"      {key.secret}\n\n"
        f"  export MEMOS_BASE_URL={base_url}\n"
        f"  export MEMOS_API_KEY={key.secret}\n",
        file=sys.stderr,
        flush=True,
    )


async def bootstrap(runtime: Runtime) -> None:
    """Give a database without any key its first one: MEMOS_API_KEY, or a new key shown once."""
    settings = runtime.settings
    project = settings.default_project
    async with runtime.database.session() as session:
        configured = settings.api_key.get_secret_value() if settings.api_key else None
        outcome, key = await ensure_bootstrap_key(session, project, configured)
        await session.commit()
    # One line whatever happened, never the key itself.
    if outcome is Bootstrap.MADE:
        assert key is not None
        announce_key(key, public_base_url(settings))
        log.info("bootstrap key: made one for project %r (printed once, above)", project)
    elif outcome is Bootstrap.STORED:
        log.info("bootstrap key: MEMOS_API_KEY stored for project %r", project)
    elif outcome is Bootstrap.NOT_USED:
        log.warning(
            "bootstrap key: MEMOS_API_KEY not used: the database has API keys and it is not one "
            "of them (it is stored only while there are none; add keys with `memos-server apikey "
            "create` or the admin API)"
        )
    else:
        known = " (MEMOS_API_KEY is one of them)" if outcome is Bootstrap.KNOWN else ""
        log.info("bootstrap key: not needed, the database has API keys%s", known)


def app_from_environment() -> FastAPI:
    """The app as ``serve --workers N`` starts it in each worker process (settings from the
    environment the parent prepared)."""
    settings = get_settings()
    configure_logging(settings.server.log_level, settings.server.log_format)
    return create_app(settings, settle_heap=True)


class App(FastAPI):
    """FastAPI with ``RequestTelemetry`` outside all of its middleware, its error middleware
    included (``add_middleware`` would put it inside that one, so the 500s it renders would carry
    no request id and go untimed), and ``AnsweredErrors`` just outside the error middleware, so a
    500 it answered leaves the connection open like any other answer."""

    def build_middleware_stack(self) -> ASGIApp:
        return RequestTelemetry(AnsweredErrors(super().build_middleware_stack()))


def create_app(settings: Settings, *, settle_heap: bool = False) -> FastAPI:
    """``settle_heap``: tune the cycle collector once started (``heap``; ``serve`` only)."""
    mcp = McpEndpoint(settings.limits)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings) as runtime, mcp.running():
            await bootstrap(runtime)
            # Without an LLM the worker still runs knowledge-base documents.
            if settings.jobs.run_worker:
                runtime.start_worker()
            runtime.start_listener()
            runtime.start_index_sync()
            runtime.start_replica_checks()
            runtime.start_retention_sweep()
            runtime.start_binding_watch()
            app.state.runtime = runtime
            if settle_heap:
                heap.settle()
            log.info("memos-server ready at %s", public_base_url(settings))
            log.info("web console at %s%s/", public_root(settings), CONSOLE_PATH)
            yield

    app = App(
        title="memos-server",
        version=__version__,
        summary="Self-hosted long-term memory for LLM applications (MemOS Cloud API).",
        lifespan=lifespan,
        # FastAPI's pages load from a CDN; ours ship with the package (api/docs.py).
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.limits.max_body_bytes,
        timeout_s=settings.limits.body_timeout_s,
        larger={f"{API_PREFIX}/add/knowledgebase-file": upload_limit(settings)},
        streamed=(IMPORT_PATH, settings.limits.import_max_bytes),
    )
    # Outside BodyLimit: a request without a key is answered before its body is read.
    app.add_middleware(KeyFirst, prefix=API_PREFIX)
    install_error_handlers(app, settings.limits.max_body_bytes)
    for router in (
        messages.router,
        search.router,
        memories.router,
        forget.router,
        tasks.router,
        feedback.router,
        chat.router,
        knowledge.router,
        profiles.router,
        extract.router,
        rerank.router,
        ping.router,
        console.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(admin.router)
    app.include_router(portability.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    install_api_docs(app)
    # Any method: the SDK answers POST and says what it does not serve.
    app.router.routes.append(Route(MCP_PATH, endpoint=mcp, include_in_schema=False))
    app.mount(CONSOLE_PATH, ConsoleFiles(), name="console")
    return app


def upload_limit(settings: Settings) -> int:
    """Largest body of add/knowledgebase-file: one document of the largest size, as base64,
    with room for the JSON or multipart around it."""
    return max(settings.limits.max_body_bytes, settings.knowledge.max_file_bytes * 4 // 3 + 65_536)


def public_root(settings: Settings) -> str:
    host = settings.server.host
    shown = "localhost" if host in ("0.0.0.0", "127.0.0.1", "::") else host  # noqa: S104
    return f"http://{shown}:{settings.server.port}"


def public_base_url(settings: Settings) -> str:
    return f"{public_root(settings)}{API_PREFIX}"
