"""Apply the Alembic migrations programmatically (at start-up and from the CLI).

Alembic is imported only to migrate: importing it takes longer (0.3 s and more on 2 busy cores)
than all the rest of a short CLI command, which only needs to know that the schema is current.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memos_server.errors import ConfigurationError

if TYPE_CHECKING:
    from alembic.config import Config


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
    from alembic.config import Config

    root = _project_root()
    config = Config(str(root / "alembic.ini")) if (root / "alembic.ini").is_file() else Config()
    config.set_main_option("script_location", str(root / "migrations"))
    config.attributes["url"] = url
    # Keep the application's logging configuration: env.py does not call fileConfig.
    config.attributes["configure_logger"] = False
    return config


def upgrade_database(url: str) -> None:
    """Bring the schema to the newest revision. Blocking; run it off the event loop."""
    from alembic import command
    from alembic.util.exc import CommandError

    try:
        command.upgrade(alembic_config(url), "head")
    except CommandError as error:
        # A newer memos-server migrated this database: Alembic's own message is a traceback
        # about a revision it cannot locate.
        if "Can't locate revision" not in str(error):
            raise
        raise ConfigurationError(
            f"the database's schema is newer than this memos-server knows ({error}; this "
            f"version's newest is {head_revision()}): a newer version upgraded it. Run that "
            "version, or restore a backup taken before the upgrade"
        ) from None


# ``revision: str = "0009"`` and ``down_revision: str | None = "0008"`` (or ``None``) in a script.
_REVISION_LINE = re.compile(
    r'^(down_)?revision(?:\s*:[^=\n]*)?\s*=\s*(?:"([^"]*)"|\'([^\']*)\'|None)\s*$', re.MULTILINE
)


def head_revision() -> str | None:
    """The newest revision of the migrations shipped with this code, read off the scripts'
    ``revision`` and ``down_revision`` lines (the one revision no other script revises).
    ``tests/test_cli.py`` checks it is Alembic's own head."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in (_project_root() / "migrations" / "versions").glob("*.py"):
        for match in _REVISION_LINE.finditer(script.read_text(encoding="utf-8")):
            name = match.group(2) or match.group(3)
            if name is not None:
                (revised if match.group(1) else revisions).add(name)
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


async def schema_is_current(engine: AsyncEngine) -> bool:
    """Whether the database's schema is at the newest revision (False too when it has none, or
    when the scripts' head cannot be told): a short CLI command migrates only then."""
    async with engine.connect() as connection:
        table = await connection.scalar(text("SELECT to_regclass('alembic_version')"))
        if table is None:
            return False
        revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    head = head_revision()
    return head is not None and revision == head
