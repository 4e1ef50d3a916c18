"""``memos-server``: run the service, migrate the database, manage projects and API keys,
re-embed the memories with another model."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

from pydantic import SecretStr

from memos_server.errors import ConfigurationError, MemosError
from memos_server.listener import BACKLOG, CannotListen, listen
from memos_server.logs import configure_logging
from memos_server.progress_bar import ProgressBar
from memos_server.runtime import Runtime, open_runtime
from memos_server.services.apikeys import (
    check_chosen_key,
    create_key,
    create_project,
    list_keys,
    list_projects,
    revoke_key,
)
from memos_server.services.reindex import BATCH_SIZE, Reindexer
from memos_server.services.vector_indexes import sync_indexes
from memos_server.settings import ServerSettings, Settings, get_settings

log = logging.getLogger("memos_server")


def _serve(settings: Settings, args: argparse.Namespace) -> None:
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
    # stop again, no "ready" line): a bad bootstrap key, a busy port.
    if settings.api_key is not None:
        check_chosen_key(settings.api_key.get_secret_value())
    with listen(server.host, server.port) as sock:
        if server.workers > 1:
            _serve_processes(settings, sock)
            return
        config = uvicorn.Config(create_app(settings), **_uvicorn_options(server))
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
    import os

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from memos_server.app import bootstrap
    from memos_server.storage.embedded import EmbeddedPostgres

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
            embedded = EmbeddedPostgres(settings.data_dir)
            url = embedded.start()
            env["MEMOS_DATABASE__URL"] = url
            database = settings.database.model_copy(update={"url": SecretStr(url)})
            settings = settings.model_copy(update={"database": database})
        _with_runtime(settings, bootstrap)
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


def _worker(settings: Settings) -> None:
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
            runtime.start_binding_watch()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            await stop.wait()
            log.info("stopping: no new jobs; finishing the ones in hand")

    asyncio.run(run())


def _with_runtime(
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


async def _db_upgrade(runtime: Runtime) -> None:
    print("database schema is up to date")


def _apikey_create(args: argparse.Namespace) -> Callable[[Runtime], Awaitable[None]]:
    async def work(runtime: Runtime) -> None:
        async with runtime.database.session() as session:
            key = await create_key(session, args.project, args.name or "")
            await session.commit()
        print(f"API key for project {key.project!r} (shown only this once; store it now):")
        print(key.secret)

    return work


async def _apikey_list(runtime: Runtime, project: str | None) -> None:
    async with runtime.database.session() as session:
        rows = await list_keys(session, project)
    columns = "{:<12} {:<20} {:<14} {:<20} {:<20} {}"
    print(columns.format("PREFIX", "PROJECT", "NAME", "CREATED", "LAST USED", "STATE"))
    for key, project_name in rows:
        state = "revoked" if key.revoked_at else "active"
        used = key.last_used_at.strftime("%Y-%m-%d %H:%M:%S") if key.last_used_at else "never"
        created = key.created_at.strftime("%Y-%m-%d %H:%M:%S")
        print(columns.format(key.prefix, project_name, key.name, created, used, state))


async def _apikey_revoke(runtime: Runtime, prefix: str) -> None:
    async with runtime.database.session() as session:
        count = await revoke_key(session, prefix)
        await session.commit()
    print(f"revoked {count} key(s) with prefix {prefix!r}")


async def _project_create(runtime: Runtime, name: str) -> None:
    async with runtime.database.session() as session:
        project, created = await create_project(session, name)
        await session.commit()
    print(f"project {project.name!r} ({project.id}){'' if created else ' already exists'}")


async def _project_list(runtime: Runtime) -> None:
    async with runtime.database.session() as session:
        rows = await list_projects(session)
    print(f"{'PROJECT':<24} {'ACTIVE KEYS':<12} ID")
    for project, keys in rows:
        print(f"{project.name:<24} {keys:<12} {project.id}")


async def _index_sync(runtime: Runtime) -> None:
    search = runtime.settings.search
    if search.hnsw_min_memories <= 0:
        raise SystemExit("per-user indexes are off: set MEMOS_SEARCH__HNSW_MIN_MEMORIES")
    report = await sync_indexes(runtime.database, search, runtime.require_embedder().dimension)
    if report.skipped:
        raise SystemExit("another process is syncing the indexes now; try again later")
    print(f"built {len(report.created)} per-user index(es), dropped {len(report.dropped)}")


async def _reindex(runtime: Runtime, batch_size: int) -> None:
    embedder = runtime.require_embedder()
    reindexer = Reindexer(
        runtime.database, embedder, batch_size=batch_size, on_progress=ProgressBar(sys.stdout)
    )
    progress = await reindexer.run()
    print(
        f"the database is bound to {embedder.name} ({embedder.dimension} dimensions): "
        f"{progress.embedded} memories re-embedded by this run, {progress.total} in all"
    )


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memos-server", description=__doc__)
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="run the service (the default command)")
    serve.add_argument("--host", help="address to listen on (MEMOS_SERVER__HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (MEMOS_SERVER__PORT)")
    serve.add_argument(
        "--workers", type=int, help="API processes sharing the port (MEMOS_SERVER__WORKERS)"
    )
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help="answer API requests only; run jobs in `memos-server worker` processes",
    )
    commands.add_parser(
        "worker", help="run fine-extraction and document jobs (any number, any machine)"
    )

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command")
    db.add_parser("upgrade", help="apply all migrations (the service also does at start)")

    apikey = commands.add_parser("apikey", help="API keys").add_subparsers(dest="apikey_command")
    create = apikey.add_parser("create", help="make a key and print it once")
    create.add_argument("--project", required=True, help="project name (created if new)")
    create.add_argument("--name", help="a label for the key")
    listing = apikey.add_parser("list", help="list keys by prefix (never the keys)")
    listing.add_argument("--project", help="only this project's keys")
    revoke = apikey.add_parser("revoke", help="revoke the key with this prefix")
    revoke.add_argument("prefix")

    project = commands.add_parser("project", help="projects").add_subparsers(dest="project_command")
    project_create = project.add_parser("create", help="create a project")
    project_create.add_argument("name")
    project.add_parser("list", help="list projects")

    index = commands.add_parser("index", help="per-user HNSW indexes").add_subparsers(
        dest="index_command"
    )
    index.add_parser(
        "sync", help="index users with MEMOS_SEARCH__HNSW_MIN_MEMORIES memories (once, now)"
    )

    reindex = commands.add_parser(
        "reindex",
        help="re-embed every memory with the configured model, then bind the database to it "
        "(resumable; a service on the old model keeps answering meanwhile)",
    )
    reindex.add_argument(
        "--batch-size",
        type=_positive,
        default=BATCH_SIZE,
        help=f"memories embedded per transaction (default {BATCH_SIZE})",
    )
    return parser


# Exit codes (README, "Exit codes"): 2 is argparse's for a bad command line, 3 uvicorn's when the
# app fails during start-up.
EXIT_CONFIGURATION = 1
EXIT_CANNOT_LISTEN = 4


class Terminated(BaseException):
    """SIGTERM, raised where the process is so that ``finally`` blocks (the embedded Postgres's
    stop among them) run. A BaseException: no ``except Exception`` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame: FrameType | None) -> None:
    signal.signal(signum, signal.SIG_IGN)  # a second SIGTERM does not cut the clean-up short
    raise Terminated(signum)


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.server.log_level, settings.server.log_format)
    command = args.command or "serve"
    # Without this, SIGTERM outside uvicorn's own handling (while the embedded Postgres starts,
    # in a CLI command) ended the process on the spot, and left that Postgres running.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if command == "serve":
            if args.command is None:
                args = parser.parse_args(["serve"])
            _serve(settings, args)
        elif command == "worker":
            _worker(settings)
        elif command == "db" and args.db_command == "upgrade":
            _with_runtime(settings, _db_upgrade)
        elif command == "apikey" and args.apikey_command == "create":
            _with_runtime(settings, _apikey_create(args))
        elif command == "apikey" and args.apikey_command == "list":
            _with_runtime(settings, lambda runtime: _apikey_list(runtime, args.project))
        elif command == "apikey" and args.apikey_command == "revoke":
            _with_runtime(settings, lambda runtime: _apikey_revoke(runtime, args.prefix))
        elif command == "project" and args.project_command == "create":
            _with_runtime(settings, lambda runtime: _project_create(runtime, args.name))
        elif command == "project" and args.project_command == "list":
            _with_runtime(settings, _project_list)
        elif command == "reindex":
            _with_runtime(
                settings,
                lambda runtime: _reindex(runtime, args.batch_size),
                with_embedder=True,
                bind=False,
            )
        elif command == "index" and args.index_command == "sync":
            _with_runtime(settings, _index_sync, with_embedder=True)
        else:
            parser.print_help()
            sys.exit(2)
    except CannotListen as exc:
        print(f"memos-server: {exc}", file=sys.stderr)
        sys.exit(EXIT_CANNOT_LISTEN)
    except (ConfigurationError, MemosError) as exc:
        print(f"memos-server: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIGURATION)
    except Terminated as stop:
        # Cleaned up: now end as SIGTERM ends a process, so the exit status says why.
        signal.signal(stop.signum, signal.SIG_DFL)
        signal.raise_signal(stop.signum)
