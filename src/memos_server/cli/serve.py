"""The commands that run the service or need all of it: ``serve``, ``worker``, ``reindex``,
``index sync``. Everything heavy is imported here, when one of them runs, not for every command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import SecretStr

from memos_server.extras import check_extras
from memos_server.listener import BACKLOG, listen
from memos_server.logs import text_logs
from memos_server.runtime import Runtime, open_runtime
from memos_server.services.apikeys import check_chosen_key
from memos_server.settings import ServerSettings, Settings

log = logging.getLogger("memos_server")


def serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from memos_server.app import create_app

    server = settings.server.model_copy(
        update={
            "host": args.host or settings.server.host,
            "port": args.port or settings.server.port,
            "workers": args.workers or settings.server.workers,
        }
    )
    update: dict[str, object] = {"server": server}
    if args.no_worker:
        update["jobs"] = settings.jobs.model_copy(update={"run_worker": False})
    settings = settings.model_copy(update=update)
    # What can be known before anything starts fails before anything starts (no Postgres to
    # stop again, no "ready" line): a bad bootstrap key, torch asked of an install without it,
    # a busy port.
    check_extras(settings)
    if settings.api_key is not None:
        check_chosen_key(settings.api_key.get_secret_value())
    with listen(server.host, server.port) as sock:
        if server.workers > 1:
            _serve_processes(settings, sock)
            return
        config = uvicorn.Config(create_app(settings, settle_heap=True), **_uvicorn_options(server))
        # As uvicorn.run: Ctrl-C ends the service after its orderly shutdown.
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run(sockets=[sock])


def _uvicorn_options(server: ServerSettings) -> dict[str, Any]:
    return {
        "host": server.host,
        "port": server.port,
        "log_level": server.log_level,
        # Logging is configured by configure_logging: uvicorn's loggers write through its
        # handler, and the access line is RequestTelemetry's (with the request id and route).
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 10,
        "backlog": BACKLOG,
        # uvicorn takes the client's address from X-Forwarded-For only from these proxies.
        "forwarded_allow_ips": server.forwarded_allow_ips,
    }


def _serve_processes(settings: Settings, sock: socket.socket) -> None:
    """``serve --workers N``: this process starts the embedded Postgres (if any), migrates and
    makes the bootstrap key once, then uvicorn runs N worker processes that share the socket and
    read their settings from the environment prepared here."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from memos_server.app import bootstrap
    from memos_server.storage.embedded import EmbeddedPostgres
    from memos_server.storage.postgres_memory import memory_settings

    server = settings.server
    embedded = None
    env = {
        "MEMOS_SERVER__HOST": server.host,
        "MEMOS_SERVER__PORT": str(server.port),
        "MEMOS_SERVER__WORKERS": "1",
        "MEMOS_JOBS__RUN_WORKER": str(settings.jobs.run_worker).lower(),
    }
    if not settings.embedding.threads:
        # The processes share the cores: each model gets its part of them.
        env["MEMOS_EMBEDDING__THREADS"] = str(max(1, (os.cpu_count() or 1) // server.workers))
    try:
        if settings.database.url is None:
            embedded = EmbeddedPostgres(settings.data_dir, memory_settings(settings.postgres))
            url = embedded.start()
            env["MEMOS_DATABASE__URL"] = url
            database = settings.database.model_copy(update={"url": SecretStr(url)})
            settings = settings.model_copy(update={"database": database})
        with_runtime(settings, bootstrap)
        os.environ.update(env)
        log.info("starting %d API processes", server.workers)
        config = uvicorn.Config(
            "memos_server.app:app_from_environment",
            factory=True,
            workers=server.workers,
            **_uvicorn_options(server),
        )
        Multiprocess(config, sockets=[sock]).run()
    finally:
        if embedded is not None:
            embedded.stop()


def worker(settings: Settings) -> None:
    """Run jobs (fine extraction with an LLM; knowledge-base documents always) until SIGTERM or
    Ctrl-C; then finish or hand back the jobs."""

    async def run() -> None:
        async with open_runtime(settings) as runtime:
            if runtime.llm is None:
                log.info(
                    "no LLM configured (MEMOS_LLM__BASE_URL, MEMOS_LLM__MODEL): this worker runs "
                    "knowledge-base documents only"
                )
            runtime.start_worker()
            runtime.start_listener(keys=False)  # it answers no requests
            runtime.start_binding_watch()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            await stop.wait()
            log.info("stopping: no new jobs; finishing the ones in hand")

    asyncio.run(run())


def with_runtime(
    settings: Settings,
    work: Callable[[Runtime], Awaitable[None]],
    *,
    with_embedder: bool = False,
    bind: bool = True,
) -> None:
    async def run() -> None:
        async with open_runtime(settings, with_embedder=with_embedder, bind=bind) as runtime:
            await work(runtime)

    asyncio.run(run())


async def index_sync(runtime: Runtime) -> None:
    from memos_server.services.knowledge.indexes import sync_base_indexes
    from memos_server.services.search.vector_indexes import sync_indexes

    settings = runtime.settings
    if settings.search.hnsw_min_memories <= 0 and settings.knowledge.hnsw_min_passages <= 0:
        raise SystemExit(
            "HNSW indexes are off: set MEMOS_SEARCH__HNSW_MIN_MEMORIES (per user) or "
            "MEMOS_KNOWLEDGE__HNSW_MIN_PASSAGES (per knowledge base)"
        )
    dimension = runtime.require_embedder().dimension
    users = await sync_indexes(runtime.database, settings.search, dimension)
    bases = await sync_base_indexes(runtime.database, settings, dimension)
    if users.skipped or bases.skipped:
        raise SystemExit("another process is syncing the indexes now; try again later")
    print(
        f"built {len(users.created)} per-user index(es), dropped {len(users.dropped)}; "
        f"built {len(bases.created)} knowledge-base index(es), dropped {len(bases.dropped)}"
    )


async def retention_sweep(runtime: Runtime) -> None:
    from memos_server.services.retention import sweep

    report = await sweep(runtime.database, runtime.settings.retention)
    if report.skipped:
        raise SystemExit("another process is sweeping expired memories now; try again later")
    print(
        f"purged {report.memories} expired memories ({report.history} history rows) in "
        f"{report.batches} batch(es); {report.users} deletion record(s)"
    )


async def reindex(runtime: Runtime, batch_size: int | None) -> None:
    from memos_server.progress_bar import reindex_progress
    from memos_server.services.reindex import BATCH_SIZE, Reindexer

    embedder = runtime.require_embedder()
    reindexer = Reindexer(
        runtime.database,
        embedder,
        batch_size=batch_size or BATCH_SIZE,
        on_progress=reindex_progress(text_logs(runtime.settings.server.log_format)),
    )
    progress = await reindexer.run()
    print(
        f"the database is bound to {embedder.name} ({embedder.dimension} dimensions): "
        f"{progress.embedded} memories re-embedded by this run, {progress.total} in all; "
        f"{progress.passages_embedded} knowledge-base passages re-embedded by this run, "
        f"{progress.passages_total} in all"
    )
