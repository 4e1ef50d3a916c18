"""A real streaming replica of an embedded Postgres, made with pgserver's own binaries.

``pg_basebackup -R`` copies the primary over its Unix socket and writes the replica's
``primary_conninfo``; ``pg_ctl`` starts it on loopback TCP on a port of its own (no Unix socket).
pgserver's initdb leaves what streaming needs: ``wal_level = replica``, ``max_wal_senders = 10``
and ``local replication all trust`` in pg_hba. Under root, pgserver runs Postgres as its own
``pgserver`` user: so do the commands here.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.support.database import sql
from tests.support.service import free_port
from tests.support.waiting import wait_until


def system_user() -> str | None:
    """The user pgserver runs Postgres as (None: this one)."""
    return "pgserver" if os.geteuid() == 0 else None


def _commands():  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver import _commands
    return _commands


class StreamingReplica:
    def __init__(self, primary_url: str, pgdata: Path) -> None:
        self.primary_url = primary_url
        self.pgdata = pgdata
        self.port = free_port()

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create(self) -> None:
        """Copy the primary (``pg_basebackup -R``: a standby from its first start)."""
        self.pgdata.mkdir(mode=0o700)
        user = system_user()
        if user is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from pgserver.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.pgdata)  # its user must reach it (as pgserver does)
            shutil.chown(self.pgdata, user, user)
        socket_dir = make_url(self.primary_url).query["host"]
        assert isinstance(socket_dir, str)
        _commands().pg_basebackup(
            [
                "-D",
                str(self.pgdata),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "-h",
                socket_dir,
                "-U",
                "postgres",
            ],
            user=user,
        )

    def start(self) -> None:
        options = f'-p {self.port} -h 127.0.0.1 -k ""'
        log = str(self.pgdata / "log")
        _commands().pg_ctl(
            ["-w", "-t", "60", "-l", log, "-o", options, "start"],
            pgdata=self.pgdata,
            user=system_user(),
        )

    def stop(self) -> None:
        _commands().pg_ctl(
            ["-w", "-t", "60", "-m", "fast", "stop"], pgdata=self.pgdata, user=system_user()
        )

    def pause(self, database: str) -> None:
        """Stop replaying the primary's WAL: what the primary writes now is not here."""
        sql(self.url(database), "SELECT pg_wal_replay_pause()")

    def resume(self, database: str) -> None:
        sql(self.url(database), "SELECT pg_wal_replay_resume()")

    def catch_up(self, database: str) -> None:
        """Wait until the replica has replayed everything the primary has written so far."""
        [row] = sql(
            make_url(self.primary_url).set(database=database).render_as_string(hide_password=False),
            "SELECT pg_current_wal_lsn()::text AS lsn",
        )

        def replayed() -> bool:
            [done] = sql(
                self.url(database),
                "SELECT pg_last_wal_replay_lsn() >= CAST(CAST(:lsn AS text) AS pg_lsn) AS done",
                lsn=row["lsn"],
            )
            return bool(done["done"])

        wait_until(replayed, 30, "the replica to replay the primary's WAL")
