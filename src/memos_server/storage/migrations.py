"""Apply the Alembic migrations programmatically (at start-up and from the CLI)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

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
