"""The embedded Postgres (pgserver) used when no database URL is configured.

pgserver ships PostgreSQL 16 with pgvector. The server keeps its data in ``<data_dir>/postgres``
across restarts, listens only on a Unix socket, and is stopped when the last process that opened
it lets go (so the CLI can share a running service's server).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "postgres").resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start (or join) the server; return its postgresql:// URL. Blocking."""
        with warnings.catch_warnings():
            # pgserver resolves a runtime directory at import and warns when XDG_RUNTIME_DIR is
            # unset (it falls back to /tmp, which is what we want).
            warnings.simplefilter("ignore")
            import pgserver

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded Postgres in %s", self.pgdata)
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        url: str = self._server.get_uri()
        return url

    def stop(self) -> None:
        """Let go of the server; it stops if no other process holds it. Blocking."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
            log.info("embedded Postgres released")
