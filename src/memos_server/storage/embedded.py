"""The embedded Postgres (pgserver) used when no database URL is configured.

pgserver ships PostgreSQL 16 with pgvector. The server keeps its data in ``<data_dir>/postgres``
across restarts and listens only on a Unix socket. Several processes may hold it at once (the
service, a ``memos-server apikey ...`` run beside it); the last one to let go stops it.

Who holds it is counted here, not by pgserver. pgserver counts holders by pid in
``.handle_pids.json`` and forgets one only when that process exits cleanly, so a SIGKILLed service
stayed a holder for ever and no later process ever stopped Postgres again. Here a holder is a pid
*and* its process's start time (``<data_dir>/postgres.holders.json``; beside the data dir, as
initdb wants an empty one), so a dead holder, or its pid reused by
another process, is recognised and dropped on every start and stop. The count and the decision to
stop share one file lock (``<data_dir>/postgres.lock``) across processes.

The postmaster a killed service left running is found by its ``postmaster.pid``: the process named
there is alive and works in our data dir (a postmaster's working directory is its data dir). It is
taken over as it is: the next service holds it and stops it when it exits. A ``postmaster.pid``
naming any other process (a restarted container reuses pids) is stale and removed, or Postgres
would refuse to start.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import subprocess
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

from memos_server.storage.postgres_memory import apply_memory_settings

log = logging.getLogger(__name__)

HOLDERS_FILE = "postgres.holders.json"  # in data_dir, beside the Postgres data dir
LOCK_FILE = "postgres.lock"
PGSERVER_HOLDERS_FILE = ".handle_pids.json"  # pgserver's own count, unused: see above
STOP_TIMEOUT_S = 60
START_TIME_SLACK_S = 1.0

Holder = tuple[int, float]  # pid, process start time (seconds since the epoch)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, memory: dict[str, str] | None = None) -> None:
        """``memory``: Postgres memory settings to apply when this process starts the server
        or is its only holder (``storage.postgres_memory``); None: leave them as they are."""
        self.pgdata = (data_dir / "postgres").resolve()
        self._memory = memory
        self._server: Any = None
        me = _holder(os.getpid())
        assert me is not None
        self._me = me
        # start() runs in a thread; stop() may come first (start-up interrupted) or meanwhile.
        self._guard = threading.Lock()
        self._closed = False

    def start(self) -> str:
        """Start (or join) the server; return its postgresql:// URL. Blocking.

        The work runs in a thread of its own: a signal that interrupts the caller (SIGTERM is an
        exception in the main thread) must not cut initdb or pg_ctl short, which would leave a
        half-made data dir or a Postgres nobody knows of. ``stop()`` waits for it to finish."""
        pool = ThreadPoolExecutor(1, thread_name_prefix="embedded-postgres")
        try:
            return pool.submit(self._start).result()
        finally:
            pool.shutdown(wait=False)

    def _start(self) -> str:
        with warnings.catch_warnings():
            # pgserver resolves a runtime directory at import and warns when XDG_RUNTIME_DIR is
            # unset (it falls back to /tmp, which is what we want).
            warnings.simplefilter("ignore")
            import pgserver

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        with self._guard, self._locked():
            if self._closed:
                raise RuntimeError("the embedded Postgres was released before it started")
            others = self._live_holders()
            postmaster = running_postmaster(self.pgdata)
            if postmaster is None:
                (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
                log.info("starting embedded Postgres in %s", self.pgdata)
            elif not others:
                log.warning(
                    "taking over the embedded Postgres (pid %d) left running by a process that "
                    "ended without stopping it",
                    postmaster.pid,
                )
            self._write_holders([*others, self._me])
            (self.pgdata / PGSERVER_HOLDERS_FILE).unlink(missing_ok=True)
            try:
                self._server = pgserver.get_server(self.pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
            except BaseException:
                self._write_holders(others)
                raise
            # Its exit hook would only edit its own count (and trip over the forgotten server).
            atexit.unregister(self._server._cleanup)
            if self._memory is not None and not others:
                # Alone with it: a restart for shared_buffers cuts off nobody's connections.
                try:
                    apply_memory_settings(
                        self._server.get_uri(), self.pgdata, self._server.system_user, self._memory
                    )
                except BaseException:
                    self._write_holders(others)
                    stop_postmaster(self.pgdata, self._server.system_user)
                    type(self._server)._instances.pop(self.pgdata, None)
                    self._server = None
                    raise
            elif self._memory is not None:
                log.info("embedded Postgres held by another process: its settings left as they are")
        # The atexit hook is for a process that ends without reaching stop(); stop() is a no-op
        # the second time.
        atexit.register(self.stop)
        url: str = self._server.get_uri()
        return url

    def stop(self) -> None:
        """Let go of the server; stop it if no other live process holds it. Blocking."""
        with self._guard:
            self._closed = True
            if self._server is None:
                return
            server, self._server = self._server, None
            with self._locked():
                others = [h for h in self._live_holders() if h != self._me]
                self._write_holders(others)
                if others:
                    log.info("embedded Postgres left running for %d other process(es)", len(others))
                    return
                stop_postmaster(self.pgdata, server.system_user)
            # pgserver keeps one server object per data dir and process; a later start in this
            # process must start Postgres again, not reuse the stopped one's details.
            type(server)._instances.pop(self.pgdata, None)
        log.info("embedded Postgres stopped")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.pgdata.parent / LOCK_FILE).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _live_holders(self) -> list[Holder]:
        """The recorded holders whose process still runs (the same process: pid and start)."""
        path = self.pgdata.parent / HOLDERS_FILE
        try:
            recorded = [(int(pid), float(started)) for pid, started in json.loads(path.read_text())]
        except (OSError, ValueError, TypeError):
            return []  # none yet, or unreadable: either way nothing to honour
        return [h for h in recorded if h == self._me or _same_process(h)]

    def _write_holders(self, holders: list[Holder]) -> None:
        path = self.pgdata.parent / HOLDERS_FILE
        scratch = path.with_suffix(".tmp")
        scratch.write_text(json.dumps(holders))
        scratch.replace(path)


def _same_process(holder: Holder) -> bool:
    # A start time is read off the boot time, which the kernel reports to the second and which
    # moves when the clock is set: allow for that. A pid is not reused within a second.
    now = _holder(holder[0])
    return now is not None and abs(now[1] - holder[1]) < START_TIME_SLACK_S


def _holder(pid: int) -> Holder | None:
    try:
        return pid, psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def running_postmaster(pgdata: Path) -> psutil.Process | None:
    """The live postmaster ``postmaster.pid`` names, if that process really serves ``pgdata``."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        try:
            serves = Path(process.cwd()) == pgdata
        except psutil.AccessDenied:
            # Another user's process (pgserver runs Postgres as its own user under root): it
            # may well be ours, and removing a live postmaster's pid file is never safe.
            serves = True
    except (OSError, ValueError, psutil.Error):
        return None
    return process if serves else None


def stop_postmaster(pgdata: Path, system_user: str | None) -> None:
    """``pg_ctl stop`` (fast: open sessions are ended), then signals if that fails."""
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    postmaster = running_postmaster(pgdata)
    if postmaster is None:
        return
    try:
        pg_ctl(
            ["-w", "-t", str(STOP_TIMEOUT_S), "-m", "fast", "stop"],
            pgdata=pgdata,
            user=system_user,
        )
    except (subprocess.SubprocessError, OSError):
        log.warning("pg_ctl could not stop the embedded Postgres; terminating it")
        try:
            postmaster.terminate()
            postmaster.wait(10)
        except psutil.TimeoutExpired:
            postmaster.kill()
        except psutil.NoSuchProcess:
            pass
