"""What one search reads of the memories table: buffers per search, heap against TOAST.

    .venv/bin/python -m bench.row_layout --data-dir .bench-data --samples 50

On a database loaded by ``bench/load.py`` (its embedded Postgres in ``--data-dir``, started
here; the service must not be running on it), one search per sample runs through the
service's own code (``search_memories``) on an engine that records its statements, as
``bench/floor.py`` does. Each search's statements are then replayed on one plain asyncpg
connection, once to warm, then measured:

- ``EXPLAIN (ANALYZE, BUFFERS)`` of each: shared buffers hit + read, summed per search;
- the ``pg_statio_user_tables`` counters of ``memories`` around the measured pass: heap, index,
  TOAST heap and TOAST index blocks, per search;
- the backend's CPU (``/proc/<pid>/stat``) per search over a pass without EXPLAIN.

It also prints the row's shape: average column sizes, the heap and TOAST relation sizes, the
rows with a value out of line. ``--table`` replays the statements against a copy of
``memories`` (``CREATE TABLE x (LIKE memories INCLUDING ALL)``) to compare layouts side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
from pathlib import Path
from typing import Any

from bench.corpus import query
from bench.floor import Statement, environment, pid_cpu, plain_dsn
from bench.load import service_env, user_id

STATIO = (
    "SELECT heap_blks_read + heap_blks_hit AS heap, idx_blks_read + idx_blks_hit AS idx,"
    " coalesce(toast_blks_read + toast_blks_hit, 0) AS toast,"
    " coalesce(tidx_blks_read + tidx_blks_hit, 0) AS toast_idx"
    " FROM pg_statio_user_tables WHERE relname = $1"
)
SHAPE = """
SELECT count(*) AS rows,
       round(avg(pg_column_size(m.*))) AS row_bytes,
       round(avg(pg_column_size(embedding))) AS embedding,
       round(avg(pg_column_size(tsv))) AS tsv,
       round(avg(pg_column_size(search_text))) AS search_text,
       round(avg(pg_column_size(memory_value))) AS memory_value,
       round(avg(pg_column_size(memory_key))) AS memory_key,
       round(avg(pg_column_size(details))) AS details,
       round(avg(pg_column_size(info))) AS info
FROM {table} m
"""
SIZES = """
SELECT pg_relation_size(c.oid) / 8192 AS heap_pages,
       coalesce(pg_relation_size(c.reltoastrelid), 0) / 8192 AS toast_pages,
       (SELECT count(DISTINCT chunk_id) FROM {toast}) AS toasted_values
FROM pg_class c WHERE c.oid = '{table}'::regclass
"""


def _retable(sql: str, table: str) -> str:
    return sql if table == "memories" else re.sub(r"\bmemories\b", table, sql)


def _buffers(plan: Any) -> int:
    top = plan[0]["Plan"]
    return int(top.get("Shared Hit Blocks", 0)) + int(top.get("Shared Read Blocks", 0))


async def capture(url: str, settings: Any, seed: int, users: int, samples: int) -> list[Any]:
    """Each sampled search's channel statements, as the service sends them."""
    from sqlalchemy import event, text

    from memos_server.embedding import load_embedder
    from memos_server.services.search.engine import SearchQuery, search_memories
    from memos_server.storage.database import Database

    embedder = await load_embedder(settings.embedding, settings.model_cache_dir)
    database = Database(url, settings.database, embedding_model=embedder.name)
    sent: list[Statement] = []

    def record(_conn: Any, _cursor: Any, sql: str, parameters: Any, _ctx: Any, many: bool) -> None:
        sent.append((sql, parameters, many))

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    rng = random.Random(f"{seed}:floor")
    asked = [(u := rng.randrange(users), query(rng, seed, u)) for _ in range(samples)]
    searches: list[list[Statement]] = []
    try:
        async with database.session() as session:
            project = (
                await session.execute(
                    text("SELECT project_id FROM memories WHERE user_id = :u LIMIT 1"),
                    {"u": user_id(0)},
                )
            ).scalar_one()
        for user, question in asked:
            sent.clear()
            async with database.session() as session:
                await search_memories(
                    session,
                    embedder,
                    settings,
                    project,
                    SearchQuery(user_id=user_id(user), query=question),
                )
            searches.append([s for s in sent if "FROM memories" in s[0]])
    finally:
        await database.dispose()
        await embedder.aclose()
    return searches


async def replay(url: str, searches: list[list[Statement]], table: str) -> dict[str, Any]:
    import asyncpg

    connection = await asyncpg.connect(plain_dsn(url))
    try:
        backend = int(await connection.fetchval("SELECT pg_backend_pid()"))
        lexical: list[int] = []
        vector: list[int] = []
        final: list[int] = []
        for statements in searches:  # warm
            for sql, parameters, _many in statements:
                await connection.fetch(_retable(sql, table), *parameters)

        async def statio() -> dict[str, int]:
            await connection.execute("SELECT pg_stat_force_next_flush()")
            await connection.execute("SELECT 1")  # the flush happens as the backend goes idle
            await connection.execute("SELECT pg_stat_clear_snapshot()")
            return dict(await connection.fetchrow(STATIO, table))

        before = await statio()
        cpu = pid_cpu(backend)
        for statements in searches:
            for sql, parameters, _many in statements:
                await connection.fetch(_retable(sql, table), *parameters)
        cpu = pid_cpu(backend) - cpu
        after = await statio()
        for statements in searches:
            for sql, parameters, _many in statements:
                plan = await connection.fetchval(
                    "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + _retable(sql, table), *parameters
                )
                used = _buffers(json.loads(plan))
                if "ts_match_vq" in sql:
                    lexical.append(used)
                elif "<=>" in sql:
                    vector.append(used)
                else:
                    final.append(used)
        n = len(searches)
        shape = dict(await connection.fetchrow(SHAPE.format(table=table)))
        toast_rel = await connection.fetchval(
            "SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = $1::regclass", table
        )
        sizes = dict(await connection.fetchrow(SIZES.format(table=table, toast=toast_rel)))
    finally:
        await connection.close()
    return {
        "table": table,
        "searches": n,
        "explain_buffers_per_search": {
            "full_text": round(sum(lexical) / n, 1),
            "vector": round(sum(vector) / n, 1),
            "other": round(sum(final) / n, 1),
            "total": round((sum(lexical) + sum(vector) + sum(final)) / n, 1),
        },
        "statio_blocks_per_search": {k: round((after[k] - before[k]) / n, 1) for k in after},
        "postgres_cpu_ms_per_search": round(cpu * 1000 / n, 2),
        "row": {k: float(v) for k, v in shape.items()},
        "relation": {k: int(v) for k, v in sizes.items()},
    }


async def main(args: argparse.Namespace) -> None:
    from memos_server.settings import Settings
    from memos_server.storage.embedded import EmbeddedPostgres

    state = json.loads((args.data_dir / "bench-state.json").read_text())
    with environment(service_env(args.data_dir, _State(state))):
        settings = Settings()
    embedded = EmbeddedPostgres(args.data_dir)
    url = await asyncio.to_thread(embedded.start)
    try:
        searches = await capture(url, settings, state["seed"], state["users_loaded"], args.samples)
        for table in args.table or ["memories"]:
            print(json.dumps(await replay(url, searches, table), indent=1))
    finally:
        await asyncio.to_thread(embedded.stop)


class _State:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--table", action="append", help="a copy of memories to replay on")
    asyncio.run(main(parser.parse_args()))
