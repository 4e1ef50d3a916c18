"""Per-user HNSW indexes, switched on by ``search.hnsw_min_memories``.

Every ``hnsw_sync_interval_s`` one process (an advisory lock decides which) gives each user with
at least that many active memories of a kind an index of their own, and drops the index of a user
who fell below half of it. Searches for an indexed user read the index (approximate, with
``hnsw_ef_search`` candidates); everyone else, and any search narrowed by a filter or an agent,
gets the exact scan. ``memos-server index sync`` runs one pass by hand.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.settings import SearchSettings
from memos_server.storage.database import Database, unavailable
from memos_server.storage.repositories.knowledge_indexes import KnowledgeIndexRepository
from memos_server.storage.repositories.vector_indexes import (
    UserKind,
    VectorIndexRepository,
    create_index,
    drop_index,
    without_statement_timeout,
)

log = logging.getLogger(__name__)

SYNC_LOCK = 0x6D656D6F5F686E73  # pg advisory lock key: one sync at a time across processes
CATALOG_TTL_S = 30.0


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    skipped: bool = False  # another process holds the sync lock


async def sync_indexes(database: Database, settings: SearchSettings, dimension: int) -> SyncReport:
    report = SyncReport()
    if settings.hnsw_min_memories <= 0:
        return report
    async with database.engine.connect() as raw:
        connection = await raw.execution_options(isolation_level="AUTOCOMMIT")
        locked = await connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": SYNC_LOCK})
        if not locked:
            report.skipped = True
            return report
        try:
            async with without_statement_timeout(connection):
                async with database.session() as session:
                    repository = VectorIndexRepository(session)
                    wanted = await repository.heavy(settings.hnsw_min_memories)
                    kept = {
                        t.index_name
                        for t in await repository.heavy(settings.hnsw_min_memories // 2)
                    }
                    valid = await repository.valid_names()
                    present = await repository.all_names()
                for target in wanted:
                    if target.index_name not in valid:
                        started = time.perf_counter()
                        await create_index(
                            connection,
                            target,
                            dimension,
                            settings.hnsw_m,
                            settings.hnsw_ef_construction,
                        )
                        log.info(
                            "built HNSW index %s in %.1f s",
                            target.index_name,
                            time.perf_counter() - started,
                        )
                        report.created.append(target.index_name)
                for name in sorted(present - kept - {t.index_name for t in wanted}):
                    await drop_index(connection, name)
                    report.dropped.append(name)
        finally:
            await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SYNC_LOCK})
    return report


class IndexCatalog:
    """Which users and knowledge bases have a usable index, as this process last looked (every
    30 s at most)."""

    def __init__(self, settings: SearchSettings, dimension: int, min_passages: int = 0) -> None:
        self.enabled = settings.hnsw_min_memories > 0
        self.bases_enabled = min_passages > 0
        self.dimension = dimension
        self.ef_search = settings.hnsw_ef_search
        self._names: set[str] = set()
        self._bases: set[uuid.UUID] = set()
        self._checked = float("-inf")

    async def _look(self, session: AsyncSession) -> None:
        if time.monotonic() - self._checked > CATALOG_TTL_S:
            if self.enabled:
                self._names = await VectorIndexRepository(session).valid_names()
            if self.bases_enabled:
                self._bases = await KnowledgeIndexRepository(session).indexed_bases()
            self._checked = time.monotonic()

    async def indexed(self, session: AsyncSession, target: UserKind) -> bool:
        if not self.enabled:
            return False
        await self._look(session)
        return target.index_name in self._names

    async def indexed_bases(self, session: AsyncSession) -> set[uuid.UUID]:
        """The knowledge bases whose passages have an index of their own."""
        if not self.bases_enabled:
            return set()
        await self._look(session)
        return self._bases

    def forget(self) -> None:
        """Look again on the next search (after a sync in this process)."""
        self._checked = float("-inf")


async def run_sync_loop(
    database: Database, settings: SearchSettings, catalog: IndexCatalog
) -> None:
    """Sync now and then every ``hnsw_sync_interval_s`` until cancelled; errors are logged."""
    while True:
        try:
            report = await sync_indexes(database, settings, catalog.dimension)
            if report.created or report.dropped:
                catalog.forget()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if unavailable(error):
                log.warning("per-user index sync: database unavailable; trying again later")
            else:
                log.exception("per-user index sync failed; trying again later")
        await asyncio.sleep(settings.hnsw_sync_interval_s)
