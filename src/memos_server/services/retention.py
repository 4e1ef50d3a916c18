"""Retention: when the memories an add makes expire, and the sweep that purges expired ones
(``docs/retention.md``).

An add's expiry, first match wins: the add's own (``info.expires_at``, a time; or
``info.ttl_seconds``, from now), its project's TTL (``projects.ttl_days``, set by ``memos-server
project ttl`` or the admin API), the service's ``retention.default_ttl_days``; 0 days is never.
The MemOS Cloud API has no expiry field (its add/message takes ``info`` as free metadata), so
the expiry rides in ``info``, where the Cloud SDK's ``add_message(info=...)`` can send it.

Expired memories are never read (``memory_scopes.live``: every query of live memories says so);
the sweep then purges them, ``sweep_batch`` a transaction, one process at a time (an advisory
lock), and records each purged user's counts in ``deletions`` (scope ``expiry``) without content.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.errors import BadRequest, NotFound
from memos_server.services.forget import subject_digest
from memos_server.settings import RetentionSettings
from memos_server.storage.database import Database, unavailable
from memos_server.storage.models import Deletion, Project
from memos_server.storage.repositories.deletions import DeletionRepository, memory_counts
from memos_server.storage.repositories.retention import RetentionRepository, by_owner
from memos_server.times import parse_time

log = logging.getLogger(__name__)

EXPIRES_AT = "expires_at"
TTL_SECONDS = "ttl_seconds"
SWEEP_LOCK = 0x6D656D6F5F747470  # pg advisory lock key: one sweep at a time across processes
SCOPE = "expiry"  # ``deletions.scope`` of what a sweep purged


MIN_TTL_SECONDS = 1


def requested_expiry(
    info: Mapping[str, Any], settings: RetentionSettings, now: datetime | None = None
) -> datetime | None:
    """The expiry an add asks for in its ``info`` (None: it asks none); BadRequest when it is
    garbled, past, both ways at once, or further than ``max_ttl_days``."""
    at, ttl = info.get(EXPIRES_AT), info.get(TTL_SECONDS)
    if at is None and ttl is None:
        return None
    if at is not None and ttl is not None:
        raise BadRequest(f"give info.{EXPIRES_AT} or info.{TTL_SECONDS}, not both")
    now = now or datetime.now(UTC)
    longest = timedelta(days=settings.max_ttl_days)
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl):
            raise BadRequest(f"info.{TTL_SECONDS} must be a number of seconds, got {ttl!r:.100}")
        if ttl < MIN_TTL_SECONDS:  # less: expired by the time it is stored
            raise BadRequest(f"info.{TTL_SECONDS} must be at least 1 (second), got {ttl!r}")
        if ttl > longest.total_seconds():
            raise BadRequest(
                f"info.{TTL_SECONDS} {ttl!r} is over the longest retention, "
                f"{settings.max_ttl_days} days ({int(longest.total_seconds())} s)"
            )
        return now + timedelta(seconds=ttl)
    try:
        moment = parse_time(at, numbers="seconds or ms")
    except ValueError as error:
        raise BadRequest(f"info.{EXPIRES_AT} {error}") from None
    if moment <= now:
        raise BadRequest(f"info.{EXPIRES_AT} {moment.isoformat()} is not in the future")
    if moment - now > longest:
        raise BadRequest(
            f"info.{EXPIRES_AT} {moment.isoformat()} is further than the longest retention, "
            f"{settings.max_ttl_days} days from now"
        )
    return moment


def add_expiry(
    settings: RetentionSettings,
    project_ttl_days: int | None,
    info: Mapping[str, Any] | None = None,
) -> datetime | None:
    """When the memories of an add expire (None: never): as its ``info`` asks, else after its
    project's TTL (``project_ttl_days``, read with the add's repeat check; None: the service's
    default)."""
    now = datetime.now(UTC)
    asked = requested_expiry(info or {}, settings, now)
    if asked is not None:
        return asked
    days = settings.default_ttl_days if project_ttl_days is None else project_ttl_days
    return now + timedelta(days=days) if days > 0 else None


def sooner(a: datetime | None, b: datetime | None) -> datetime | None:
    """The earlier of two expiries (None: never)."""
    if a is None or b is None:
        return a if b is None else b
    return min(a, b)


async def set_project_ttl(
    session: AsyncSession, settings: RetentionSettings, name: str, days: int | None
) -> Project:
    """Set a project's TTL in days (0: its memories never expire; None: the service's default,
    ``retention.default_ttl_days``). Memories already stored keep their expiry."""
    if days is not None and not 0 <= days <= settings.max_ttl_days:
        raise BadRequest(f"ttl_days must be 0 to {settings.max_ttl_days} (or null), got {days}")
    project = await RetentionRepository(session).set_ttl(name, days)
    if project is None:
        raise NotFound(f"no project named {name!r}")
    return project


@dataclass
class SweepReport:
    memories: int = 0
    history: int = 0
    batches: int = 0
    users: int = 0  # deletion records written
    skipped: bool = False  # another process holds the sweep lock


async def _purge_batch(database: Database, batch: int, report: SweepReport) -> int:
    """One transaction: up to ``batch`` expired memories and their history, and a deletion
    record per user they were of; how many memories went."""
    async with database.session() as session:
        expired, history_of = await RetentionRepository(session).purge_expired(batch)
        history = Counter(history_of)
        records = []
        for (project_id, user_id), memories in by_owner(expired).items():
            kinds = Counter((m.kind, m.mode) for m in memories)
            counts = memory_counts((kind, mode, n) for (kind, mode), n in kinds.items())
            counts["history"] = sum(history[m.id] for m in memories)
            subject = subject_digest(project_id, user_id)
            records.append(
                Deletion(project_id=project_id, scope=SCOPE, subject=subject, counts=counts)
            )
        await DeletionRepository(session).record_all(records)
        await session.commit()
    report.users += len(records)
    report.memories += len(expired)
    report.history += len(history_of)
    if expired:
        report.batches += 1
    return len(expired)


async def sweep(database: Database, settings: RetentionSettings) -> SweepReport:
    """Purge every memory expired by now, ``sweep_batch`` per transaction, unless another
    process is sweeping (then ``skipped``)."""
    report = SweepReport()
    async with database.engine.connect() as raw:
        connection = await raw.execution_options(isolation_level="AUTOCOMMIT")
        locked = await connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": SWEEP_LOCK})
        if not locked:
            report.skipped = True
            return report
        try:
            # Each batch its own transaction: requests run between them, and a pass stopped
            # half-way keeps what it purged.
            full = settings.sweep_batch
            while await _purge_batch(database, full, report) == full:
                pass
        finally:
            await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SWEEP_LOCK})
    return report


async def run_sweep_loop(database: Database, settings: RetentionSettings) -> None:
    """Sweep every ``sweep_interval_s`` until cancelled; errors are logged and tried again."""
    while True:
        await asyncio.sleep(settings.sweep_interval_s)
        try:
            report = await sweep(database, settings)
            if report.memories:
                log.info(
                    "retention sweep purged %d expired memories (%d history rows) in %d batches",
                    report.memories,
                    report.history,
                    report.batches,
                )
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if unavailable(error):
                log.warning("retention sweep: database unavailable; trying again later")
            else:
                log.exception("retention sweep failed; trying again later")
