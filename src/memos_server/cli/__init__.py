"""``memos-server``: run the service, migrate the database, manage projects and API keys, look
into and change what it remembers (search, add, users, reset), re-embed the memories with another
model, export a project to a file and import it elsewhere.

Commands that only read or write rows run on a short-lived database connection and import
nothing heavy (``cli.connection``); results go to stdout, errors to stderr, and log lines below
warnings are left out. The service, the worker, and commands that need the embedding model open
the whole runtime (``cli.serve``).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import TYPE_CHECKING

from pydantic import ValidationError

from memos_server.errors import ConfigurationError, MemosError
from memos_server.listener import CannotListen
from memos_server.logs import configure_logging
from memos_server.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from memos_server.runtime import Runtime

# Exit codes (README, "Exit codes"): 2 is argparse's for a bad command line, 3 uvicorn's when the
# app fails during start-up.
EXIT_CONFIGURATION = 1
EXIT_CANNOT_LISTEN = 4

# Commands a person runs for their answer: only warnings and errors are logged beside it.
# ``mcp`` too: its stdout is the protocol's, and its stderr a client's log.
QUICK = (
    "db",
    "apikey",
    "project",
    "search",
    "add",
    "users",
    "reset",
    "mcp",
    "retention",
    "export",
    "import",
)


def build_parser() -> argparse.ArgumentParser:
    from memos_server.cli.parser import build_parser as build

    return build((__doc__ or "").split("\n\n")[0])


class Terminated(BaseException):
    """SIGTERM, raised where the process is so that ``finally`` blocks (the embedded Postgres's
    stop among them) run. A BaseException: no ``except Exception`` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame: FrameType | None) -> None:
    signal.signal(signum, signal.SIG_IGN)  # a second SIGTERM does not cut the clean-up short
    raise Terminated(signum)


def _rows(settings: Settings, work: Callable[[AsyncSession], Awaitable[None]]) -> None:
    from memos_server.cli.connection import in_session

    in_session(settings, work)


def _model(settings: Settings, work: Callable[[Runtime], Awaitable[None]]) -> None:
    from memos_server.cli.serve import with_runtime

    with_runtime(settings, work, with_embedder=True)


def _listed(settings: Settings, listed: Callable[[], bool]) -> None:
    """A listing on a plain connection; if the schema was behind, migrate and list again."""
    if not listed():
        from memos_server.cli import keys

        _rows(settings, keys.migrated)
        listed()


def _keys(settings: Settings, command: str, sub: str | None, args: argparse.Namespace) -> None:
    if sub == "list":  # before ``keys`` is imported: it brings SQLAlchemy
        from memos_server.cli import listing

        if command == "apikey":
            _listed(settings, lambda: listing.apikey_list(settings, args.project))
        else:
            _listed(settings, lambda: listing.project_list(settings))
        return
    from memos_server.cli import keys

    if (command, sub) == ("db", "upgrade"):
        _rows(settings, keys.db_upgrade)
    elif (command, sub) == ("apikey", "create"):
        _rows(settings, lambda session: keys.apikey_create(session, args.project, args.name))
    elif (command, sub) == ("apikey", "revoke"):
        _rows(settings, lambda session: keys.apikey_revoke(session, args.prefix))
    elif (command, sub) == ("project", "create"):
        _rows(settings, lambda session: keys.project_create(session, args.name))
    elif (command, sub) == ("project", "ttl"):
        _rows(settings, lambda session: keys.project_ttl(session, settings, args.name, args.days))
    else:
        raise AssertionError(f"no command {command} {sub}")  # argparse allows no other


def _memories(settings: Settings, command: str, args: argparse.Namespace) -> None:
    from memos_server.cli import memories

    if command == "users":
        _rows(settings, lambda session: memories.users(session, args))
    elif command == "reset":
        _rows(settings, lambda session: memories.reset(session, settings, args))
    elif command == "search":
        _model(settings, lambda runtime: memories.search(runtime, args))
    else:
        body = memories.read_add(args)
        _model(settings, lambda runtime: memories.add(runtime, args, body))


def _mcp(settings: Settings, args: argparse.Namespace) -> None:
    key = args.api_key or (settings.api_key.get_secret_value() if settings.api_key else None)
    if not key:
        raise ConfigurationError("memos-server mcp needs an API key: MEMOS_API_KEY or --api-key")
    user = args.user_id or settings.user_id
    from memos_server.mcp.stdio import serve_stdio

    _model(settings, lambda runtime: serve_stdio(runtime, key, user))


def _portability(settings: Settings, command: str, args: argparse.Namespace) -> None:
    import asyncio

    from memos_server.cli import portability

    if command == "export":
        asyncio.run(portability.export(settings, args))
        return
    project = args.project or portability.header_of(args.file)  # before the model loads
    _model(settings, lambda runtime: portability.import_(runtime, args, project))


def _run(settings: Settings, parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    command = args.command or "serve"
    sub = getattr(args, f"{command}_command", None)
    if command == "serve":
        from memos_server.cli.serve import serve

        serve(settings, args if args.command else parser.parse_args(["serve"]))
    elif command == "worker":
        from memos_server.cli.serve import worker

        worker(settings)
    elif command in ("db", "apikey", "project") and sub is not None:
        _keys(settings, command, sub, args)
    elif command in ("users", "reset", "search", "add"):
        _memories(settings, command, args)
    elif command == "reindex":
        from memos_server.cli.serve import reindex, with_runtime

        with_runtime(
            settings,
            lambda runtime: reindex(runtime, args.batch_size),
            with_embedder=True,
            bind=False,
        )
    elif command == "mcp":
        _mcp(settings, args)
    elif command in ("export", "import"):
        _portability(settings, command, args)
    elif (command, sub) == ("index", "sync"):
        from memos_server.cli.serve import index_sync, with_runtime

        with_runtime(settings, index_sync, with_embedder=True)
    elif (command, sub) == ("retention", "sweep"):
        from memos_server.cli.serve import retention_sweep, with_runtime

        with_runtime(settings, retention_sweep)
    else:
        parser.print_help()
        sys.exit(2)


def setting_problems(error: ValidationError) -> list[str]:
    """One line per setting the environment (or .env) got wrong, named as it is set:
    ``MEMOS_SEARCH__TIMEZONE: unknown time zone 'Mars/Base' (...)``."""
    lines = []
    for problem in error.errors():
        name = "MEMOS_" + "__".join(str(part) for part in problem["loc"]).upper()
        message = str(problem["msg"]).removeprefix("Value error, ")
        lines.append(f"{name}: {message}")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        for problem in setting_problems(exc):
            print(f"memos-server: {problem}", file=sys.stderr)
        sys.exit(EXIT_CONFIGURATION)
    level = settings.server.log_level
    if args.command in QUICK and level != "debug":
        level = "warning"
    configure_logging(level, settings.server.log_format)
    # Without this, SIGTERM outside uvicorn's own handling (while the embedded Postgres starts,
    # in a CLI command) ended the process on the spot, and left that Postgres running.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        _run(settings, parser, args)
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
