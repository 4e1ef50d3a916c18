"""Apply the Alembic migrations programmatically (at start-up and from the CLI)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from memos_server.errors import ConfigurationError


def _project_root() -> Path:
    # Editable install or source checkout: <root>/src/memos_server/storage/migrations.py.
    # Installed package (Docker): the working directory holds alembic.ini and migrations/.
    candidates = (Path(__file__).resolve().parents[3], Path.cwd())
    for root in candidates:
        if (root / "migrations" / "env.py").is_file():
            return root
    raise ConfigurationError(
        "cannot find the migrations/ folder; run from the directory that holds alembic.ini"
    )


def alembic_config(url: str) -> Config:
    root = _project_root()
    config = Config(str(root / "alembic.ini")) if (root / "alembic.ini").is_file() else Config()
    config.set_main_option("script_location", str(root / "migrations"))
    config.attributes["url"] = url
    # Keep the application's logging configuration: env.py does not call fileConfig.
    config.attributes["configure_logger"] = False
    return config


def upgrade_database(url: str) -> None:
    """Bring the schema to the newest revision. Blocking; run it off the event loop."""
    command.upgrade(alembic_config(url), "head")


def head_revision(url: str) -> str | None:
    """The newest revision of the migrations shipped with this code (reads the scripts only)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


async def schema_is_current(engine: AsyncEngine, url: str) -> bool:
    """Whether the database's schema is at the newest revision (False too when it has none): a
    short CLI command migrates only then, sparing itself Alembic's full run (about a second)."""
    from alembic.runtime.migration import MigrationContext

    def current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        revision = await connection.run_sync(current)
    return revision is not None and revision == head_revision(url)
