"""Per-knowledge-base HNSW indexes, switched on by ``knowledge.hnsw_min_passages``.

After a document's passages are stored (the ``knowledge`` job), and on ``memos-server index
sync``, one process (an advisory lock decides which) gives each base with at least that many
passages an index of its own and drops the index of a base that fell below half of it or is gone.
A search reads a base's index when it has one (approximate, ``search.hnsw_ef_search``
candidates) and scans the other bases exactly.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import text

from memos_server.services.search.vector_indexes import SyncReport
from memos_server.settings import Settings
from memos_server.storage.database import Database
from memos_server.storage.repositories.knowledge_indexes import (
    KnowledgeIndexRepository,
    base_index_name,
    create_base_index,
    drop_base_index,
)
from memos_server.storage.repositories.vector_indexes import without_statement_timeout

log = logging.getLogger(__name__)

SYNC_LOCK = 0x6D656D6F5F6B6268  # pg advisory lock key: one base-index sync at a time


async def sync_base_indexes(database: Database, settings: Settings, dimension: int) -> SyncReport:
    report = SyncReport()
    least = settings.knowledge.hnsw_min_passages
    if least <= 0:
        return report
    search = settings.search
    async with database.engine.connect() as raw:
        connection = await raw.execution_options(isolation_level="AUTOCOMMIT")
        locked = await connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": SYNC_LOCK})
        if not locked:
            report.skipped = True
            return report
        try:
            async with without_statement_timeout(connection):
                async with database.session() as session:
                    repository = KnowledgeIndexRepository(session)
                    wanted = await repository.large_bases(least)
                    kept = await repository.large_bases(max(1, least // 2))
                    valid = await repository.indexed_bases()
                    present = await repository.indexed_bases(valid=False)
                for base in sorted(wanted - valid):
                    started = time.perf_counter()
                    await create_base_index(
                        connection, base, dimension, search.hnsw_m, search.hnsw_ef_construction
                    )
                    log.info(
                        "built HNSW index for knowledge base %s in %.1f s",
                        base,
                        time.perf_counter() - started,
                    )
                    report.created.append(base_index_name(base))
                for base in sorted(present - kept - wanted):
                    await drop_base_index(connection, base)
                    report.dropped.append(base_index_name(base))
        finally:
            await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SYNC_LOCK})
    return report
