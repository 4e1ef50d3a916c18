"""The embedded Postgres's memory settings: sized from the machine, applied when it starts.

pgserver starts Postgres with a fixed ``pg_ctl`` command line (no ``-o`` of ours), so the
settings are written with ``ALTER SYSTEM`` (``postgresql.auto.conf``, kept across restarts)
once the server is up. ``work_mem`` and ``effective_cache_size`` take effect on a reload;
``shared_buffers`` only on a restart, which ``pg_ctl restart`` does with the options pgserver
started it with (``postmaster.opts``): once, the first time a value changes, and only when no
other process holds the server.

``auto`` sizes, from the machine's memory (or the container's limit, if lower):

- ``shared_buffers``: a quarter, at least 128MB (Postgres' default) and at most 4GB. A quarter
  is the usual start for a server of its own; the cap because this one shares the machine with
  the API process, its embedding model and the workers, and past a few GB the OS page cache
  holds the rest as well (BENCHMARKS.md: 1,000,000 memories are a 2.3 GB table, which the
  default 128MB left to be copied in from the OS cache on every search).
- ``effective_cache_size``: half. Only the planner reads it (how much of a table is likely
  cached, so whether an index pays); the other half is left for the model and the processes.
- ``work_mem``: a 400th, between 4MB (Postgres' default) and 64MB: a query may sort or hash
  several times at once, on each of up to 100 connections, and a quarter of memory is the most
  all of them should take together.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import psutil

from memos_server.settings.database import PostgresSettings

log = logging.getLogger(__name__)

MB = 1024 * 1024
SHARED_BUFFERS_FLOOR = 128 * MB
SHARED_BUFFERS_CAP = 4096 * MB
WORK_MEM_FLOOR = 4 * MB
WORK_MEM_CAP = 64 * MB
_CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),  # cgroup v2
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),  # cgroup v1
)
RESTART_TIMEOUT_S = 60


def machine_memory() -> int:
    """Bytes of memory this machine has, or the container's limit when that is lower."""
    total: int = psutil.virtual_memory().total
    for path in _CGROUP_LIMITS:
        try:
            limit = int(path.read_text().strip())  # "max" (no limit) is not a number
        except (OSError, ValueError):
            continue
        total = min(total, limit)
    return total


def _megabytes(size: int, floor: int, cap: int) -> str:
    return f"{max(floor, min(cap, size)) // MB}MB"


def memory_settings(settings: PostgresSettings, memory: int | None = None) -> dict[str, str]:
    """Each setting's value for Postgres: as configured, or ``auto`` sized from ``memory``
    (bytes; the machine's when not given)."""
    total = machine_memory() if memory is None else memory
    auto = {
        "shared_buffers": _megabytes(total // 4, SHARED_BUFFERS_FLOOR, SHARED_BUFFERS_CAP),
        "effective_cache_size": _megabytes(total // 2, SHARED_BUFFERS_FLOOR, total),
        "work_mem": _megabytes(total // 400, WORK_MEM_FLOOR, WORK_MEM_CAP),
    }
    configured = {
        "shared_buffers": settings.shared_buffers,
        "effective_cache_size": settings.effective_cache_size,
        "work_mem": settings.work_mem,
    }
    return {name: auto[name] if value == "auto" else value for name, value in configured.items()}


def apply_memory_settings(
    url: str, pgdata: Path, system_user: str | None, wanted: dict[str, str]
) -> None:
    """Write ``wanted`` with ALTER SYSTEM, reload, and restart the server if shared_buffers
    changed. Blocking; the caller holds the server alone."""
    from pgserver._commands import POSTGRES_BIN_PATH, pg_ctl  # type: ignore[attr-defined]

    # The names are ours (memory_settings); the values matched MEMORY_SIZE: no quoting to get
    # wrong. ALTER SYSTEM checks each value before writing it; one refused writes none after it.
    statements = [f"ALTER SYSTEM SET {name} = '{value}';" for name, value in wanted.items()]
    restart_check = (
        "SELECT pg_size_bytes(current_setting('shared_buffers')) "
        f"<> pg_size_bytes('{wanted['shared_buffers']}');"
    )
    psql = [str(POSTGRES_BIN_PATH / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    done = subprocess.run(  # noqa: S603 (our own psql; the values matched MEMORY_SIZE)
        [*psql, "-d", url],
        input="\n".join([*statements, "SELECT pg_reload_conf();", restart_check]),
        capture_output=True,
        text=True,
        timeout=RESTART_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"the embedded Postgres refused its memory settings {wanted} (MEMOS_POSTGRES__*): "
            f"{done.stderr.strip()}"
        )
    if done.stdout.split()[-1:] != ["t"]:
        return
    log.info("restarting the embedded Postgres for shared_buffers = %s", wanted["shared_buffers"])
    pg_ctl(
        # -l: its log where pgserver keeps it (else into pg_ctl's output, which is thrown away).
        ["-w", "-t", str(RESTART_TIMEOUT_S), "-m", "fast", "-l", str(pgdata / "log"), "restart"],
        pgdata=pgdata,
        user=system_user,
    )
