"""How fast the retention sweep purges expired memories (docs/retention.md).

A throwaway embedded Postgres (pgserver, in a temporary directory) gets ``--memories`` expired
memories, each with its ADD history row, spread over ``--users`` users, and as many that never
expire; then one ``services.retention.sweep`` pass runs with ``--batch`` memories a transaction:

    .venv/bin/python bench/retention_sweep.py --memories 100000 --batch 500

It prints what was purged, the deletion records written and the rate, with the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import warnings

from sqlalchemy import text

from memos_server.services.retention import sweep
from memos_server.settings import DatabaseSettings, RetentionSettings
from memos_server.storage.database import Database
from memos_server.storage.migrations import upgrade_database

SEED = """
WITH made AS (
    INSERT INTO memories (id, project_id, user_id, kind, mode, memory_key, memory_value,
        memory_type, status, embedding, search_text, expires_at)
    SELECT gen_random_uuid(), (SELECT id FROM projects), '用户' || (g % :users), 'fact', 'fast',
        '出差', '第' || g || '条记忆：下周去杭州出差', 'LongTermMemory', 'activated',
        array_fill(0.05::real, ARRAY[384])::vector, '出差 杭州',
        CASE WHEN :expired THEN now() - interval '1 minute' END
    FROM generate_series(1, :count) g
    RETURNING id, project_id, memory_value
)
INSERT INTO memory_history (memory_id, project_id, event, new_value)
SELECT id, project_id, 'ADD', memory_value FROM made
"""


async def run(url: str, memories: int, users: int, batch: int) -> None:
    database = Database(url, DatabaseSettings(pool_size=3, max_overflow=0))
    try:
        async with database.session() as session:
            await session.execute(
                text("INSERT INTO projects (id, name) VALUES (gen_random_uuid(), 'bench')")
            )
            for expired in (True, False):
                await session.execute(
                    text(SEED), {"users": users, "expired": expired, "count": memories}
                )
            await session.commit()
        started = time.perf_counter()
        report = await sweep(database, RetentionSettings(sweep_batch=batch))
        took = time.perf_counter() - started
    finally:
        await database.dispose()
    print(
        f"purged {report.memories} memories and {report.history} history rows in "
        f"{report.batches} batches of {batch}, {report.users} deletion records: {took:.2f} s, "
        f"{report.memories / took:,.0f} memories/s "
        f"({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=100_000, help="expired (and live) ones")
    parser.add_argument("--users", type=int, default=100, help="users they are spread over")
    parser.add_argument("--batch", type=int, default=500, help="MEMOS_RETENTION__SWEEP_BATCH")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    with tempfile.TemporaryDirectory(prefix="retention-bench-") as directory:
        server = pgserver.get_server(directory, cleanup_mode="delete")
        try:
            upgrade_database(server.get_uri())
            asyncio.run(run(server.get_uri(), args.memories, args.users, args.batch))
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
