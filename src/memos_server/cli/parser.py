"""The command line: every command and its options."""

from __future__ import annotations

import argparse


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _ttl_days(value: str) -> int | None:
    if value == "default":
        return None
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("a number of days, or 'default'") from None
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 (forever) or more")
    return number


def build_parser(description: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memos-server", description=description)
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
    project_ttl = project.add_parser(
        "ttl", help="days a memory made by an add to the project lives (docs/retention.md)"
    )
    project_ttl.add_argument("name")
    project_ttl.add_argument(
        "days", help="0: forever; 'default': MEMOS_RETENTION__DEFAULT_TTL_DAYS", type=_ttl_days
    )

    _memory_commands(commands)

    index = commands.add_parser("index", help="per-user HNSW indexes").add_subparsers(
        dest="index_command"
    )
    index.add_parser(
        "sync", help="index users with MEMOS_SEARCH__HNSW_MIN_MEMORIES memories (once, now)"
    )

    retention = commands.add_parser(
        "retention", help="memories that expire (docs/retention.md)"
    ).add_subparsers(dest="retention_command")
    retention.add_parser("sweep", help="purge every expired memory now (once)")

    mcp = commands.add_parser(
        "mcp",
        help="serve the memory tools to an MCP client over stdio (Claude Desktop, Cursor); the "
        "service itself serves them at /mcp",
    )
    mcp.add_argument("--api-key", help="the project's API key (default: MEMOS_API_KEY)")
    mcp.add_argument(
        "--user-id", help="the user a tool call names none of (default: MEMOS_USER_ID)"
    )

    reindex = commands.add_parser(
        "reindex",
        help="re-embed every memory with the configured model, then bind the database to it "
        "(resumable; a service on the old model keeps answering meanwhile)",
    )
    reindex.add_argument("--batch-size", type=_positive, help="memories embedded per transaction")
    _portability_commands(commands)
    return parser


def _portability_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser(
        "export",
        help="write a project's messages, memories with their history, feedback, tasks and "
        "knowledge bases as JSON Lines (docs/export.md)",
    )
    export.add_argument(
        "--project", help="project name (default: the only project; required if there are several)"
    )
    export.add_argument("--user", help="only this user's records (no knowledge bases)")
    export.add_argument(
        "--embeddings", action="store_true", help="with the vectors (no re-embedding on import)"
    )
    export.add_argument("-o", "--output", help="the file to write (default: stdout)")

    imported = commands.add_parser(
        "import",
        help="read an export into this instance (one transaction; importing it again adds "
        "nothing); re-embeds when the file has no vectors of this model",
    )
    imported.add_argument("file", help="an export file")
    imported.add_argument(
        "--project",
        help="the project to import into (default: the exported one's name; created if new)",
    )
    imported.add_argument("--json", action="store_true", help="the counts as JSON, for scripts")


def _memory_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    project_help = "project name (default: the only project; required if there are several)"

    search = commands.add_parser("search", help="search a user's memories, as search/memory does")
    search.add_argument("query")
    search.add_argument("--user", required=True)
    search.add_argument("--project", help=project_help)
    search.add_argument("--conversation", help="only memories made in this conversation")
    search.add_argument(
        "--top", type=_positive, default=6, help="facts and preferences, each (default 6)"
    )
    search.add_argument("--json", action="store_true", help="a JSON list, for scripts")

    add = commands.add_parser(
        "add", help='store messages read from stdin (a JSON list of {"role", "content"})'
    )
    add.add_argument("--user", required=True)
    add.add_argument("--conversation", required=True)
    add.add_argument("--project", help=project_help)
    add.add_argument("--json", action="store_true", help="the answer as JSON, for scripts")

    users = commands.add_parser("users", help="a project's users with their counts")
    users.add_argument("--project", help=project_help)
    users.add_argument("--json", action="store_true", help="a JSON list, for scripts")

    reset = commands.add_parser(
        "reset",
        help="delete a project's (or one user's) messages and memories, after saying what and "
        "asking; the project and its keys stay",
    )
    reset.add_argument("--project", help=project_help)
    reset.add_argument("--user", help="only this user's")
    reset.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
