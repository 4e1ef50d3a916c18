"""Export and import speed and memory: ``memos-server export --embeddings`` then ``import`` of a
project of ``--memories`` memories (vectors carried, so nothing is re-embedded), each a real
process, timed, with its peak RSS.

    .venv/bin/python bench/export_import.py                       # 100,000 memories
    .venv/bin/python bench/export_import.py --memories 20000      # flat memory: compare peaks

An embedded Postgres in ``--data-dir`` holds two databases: the source, filled straight in SQL
(memories in Chinese with random unit vectors of the bound model's size, one ADD history row
each, a message per ten memories named as their source, a task per thousand), and an empty
target. The model is bound first by one CLI search (the import loads the model anyway, to check
the file's vectors were made by it). Prints memories/s and peak RSS of each step.

The embedded Postgres gets the memory settings the service would give it (``--postgres-memory``,
``storage/postgres_memory.py``). ``--keep`` keeps the file; ``--file`` then imports it alone into
a new database (``--memories`` only for the rate), ``--profile`` under cProfile:

    .venv/bin/python bench/export_import.py --keep
    .venv/bin/python bench/export_import.py --file .bench-data/export/export-....jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

PROJECT = "bench-export"

FILL = [
    """
    INSERT INTO tasks (id, project_id, kind, user_id, conversation_id, status, created_at,
        updated_at)
    SELECT md5('task' || t)::uuid, :p, 'add_message', 'user-' || (t % 50), 'c' || t,
        'completed', now(), now()
    FROM generate_series(0, CAST(:n AS int) / 1000) AS t
    """,
    """
    INSERT INTO messages (project_id, seq, user_id, conversation_id, task_id, role, content,
        tags, info, created_at, updated_at)
    SELECT :p, g, 'user-' || (g / 1000 % 50), 'c' || (g / 100), md5('task' || (g / 100))::uuid,
        CASE WHEN g % 2 = 0 THEN 'user' ELSE 'assistant' END,
        '我们这周末带孩子去第' || g || '号公园野餐，顺便买点水果。', '{}', '{}', now(), now()
    FROM generate_series(1, CAST(:n AS int) / 10) AS g
    """,
    "UPDATE projects SET message_seq = CAST(:n AS int) / 10 WHERE id = :p",
    """
    INSERT INTO memories (id, project_id, user_id, conversation_id, task_id, kind, mode,
        memory_key, memory_value, memory_type, tags, confidence, status, embedding,
        source_message_ids, info, search_text, create_time, update_time)
    SELECT md5('memory' || g)::uuid, :p, 'user-' || (g / 100 % 50), 'c' || (g / 1000),
        md5('task' || (g / 1000))::uuid,
        CASE WHEN g % 5 = 0 THEN 'preference' ELSE 'fact' END, 'fast',
        '偏好 ' || g, '用户喜欢第' || g || '号菜品，常住城市编号' || (g % 100) || '。',
        'LongTermMemory', ARRAY['标签' || (g % 7)], 0.9, 'activated',
        (SELECT array_agg(random() - 0.5)::vector FROM generate_series(1, :dim) WHERE g > 0),
        ARRAY[(SELECT id FROM messages WHERE project_id = :p AND seq = 1 + g / 10)],
        jsonb_build_object('n', g), '用户 喜欢 菜品 ' || g,
        now() - g * interval '1 second', now() - g * interval '1 second'
    FROM generate_series(1, CAST(:n AS int) - 1) AS g
    """,
    """
    INSERT INTO memory_history (memory_id, project_id, event, new_value, source_message_ids,
        task_id, created_at)
    SELECT id, project_id, 'ADD', memory_value, source_message_ids, task_id, create_time
    FROM memories WHERE project_id = :p ORDER BY create_time
    """,
]


PROFILE: list[str] = []  # cProfile's options for the import (--profile)


def cli(url: str, *args: str) -> tuple[float, int, str]:
    """Run ``memos-server`` on ``url``: seconds, peak RSS (KiB), stdout."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    environment["MEMOS_DATABASE__URL"] = url
    environment["PYTHONPATH"] = str(ROOT / "src")
    # The model the tests use (make test fetches it): nothing downloaded here.
    environment["MEMOS_EMBEDDING__CACHE_DIR"] = str(ROOT / "test-artifacts" / "models")
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as error:
        process = subprocess.Popen(  # noqa: S603 (our own command)
            [
                sys.executable,
                *(PROFILE if args[0] == "import" else []),
                "-m",
                "memos_server",
                *args,
            ],
            env=environment,
            stdout=out,
            stderr=error,
        )
        # wait4: this process's own peak RSS (RUSAGE_CHILDREN would be the largest so far).
        _, status, usage = os.wait4(process.pid, 0)
        took = time.perf_counter() - started
        out.seek(0)
        error.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"memos-server {' '.join(args)} failed: {error.read().decode()}")
        return took, usage.ru_maxrss, out.read().decode()


async def fill(url: str, memories: int) -> dict[str, Any]:
    from sqlalchemy import text

    from memos_server.settings import DatabaseSettings
    from memos_server.storage.database import Database

    database = Database(url, DatabaseSettings(pool_size=1, max_overflow=0, statement_timeout_s=0))
    try:
        async with database.session() as session:
            project = await session.scalar(
                text("SELECT id FROM projects WHERE name = :n"), {"n": PROJECT}
            )
            dimension = int(
                await session.scalar(
                    text("SELECT value FROM service_meta WHERE key = 'embedding_dimension'")
                )
                or 0
            )
            started = time.perf_counter()
            for statement in FILL:
                sql = statement.replace(":dim", str(dimension))
                await session.execute(text(sql), {"p": project, "n": memories})
            await session.commit()
            return {"dimension": dimension, "fill_s": time.perf_counter() - started}
    finally:
        await database.dispose()


def import_once(url: str, path: Path, memories: int) -> None:
    took, rss, out = cli(url, "import", str(path), "--project", PROJECT, "--json")
    inside = json.loads(out)["seconds"]
    print(
        f"import: {took:.1f} s in all ({memories / took:,.0f} memories/s), of which "
        f"{inside:.1f} s importing ({memories / inside:,.0f} memories/s) and the rest "
        f"the process's start and the model's load; peak RSS {rss / 1024:.0f} MiB; "
        f"load average {os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the databases and the file")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".bench-data" / "export")
    parser.add_argument(
        "--file",
        type=Path,
        help="an export kept by --keep: only import it (into a new, empty database)",
    )
    parser.add_argument(
        "--postgres-memory",
        choices=("service", "unchanged"),
        default="service",
        help="service: the memory settings the service gives its embedded Postgres "
        "(MEMOS_POSTGRES__*, sized from the machine); unchanged: leave the data dir's as they are",
    )
    parser.add_argument("--profile", type=Path, help="run the import under cProfile, into this")
    args = parser.parse_args()
    if args.profile is not None:
        PROFILE.extend(["-m", "cProfile", "-o", str(args.profile)])

    from sqlalchemy.engine import make_url

    from memos_server.settings.database import PostgresSettings
    from memos_server.storage.embedded import EmbeddedPostgres
    from memos_server.storage.postgres_memory import memory_settings
    from tests.support.database import sql_autocommit

    memory = memory_settings(PostgresSettings()) if args.postgres_memory == "service" else None
    embedded = EmbeddedPostgres(args.data_dir, memory)
    server = embedded.start()
    try:
        if args.file is not None:
            name = f"bench_target_{int(time.time())}"
            sql_autocommit(server, f'CREATE DATABASE "{name}"')
            url = make_url(server).set(database=name).render_as_string(False)
            try:
                import_once(url, args.file, args.memories)
            finally:
                sql_autocommit(server, f'DROP DATABASE "{name}"')
            return
        suffix = f"{args.memories}_{int(time.time())}"
        urls = {}
        for role in ("source", "target"):
            name = f"bench_{role}_{suffix}"
            sql_autocommit(server, f'CREATE DATABASE "{name}"')
            urls[role] = make_url(server).set(database=name).render_as_string(False)
        cli(urls["source"], "project", "create", PROJECT)
        cli(urls["source"], "search", "绑定", "--user", "u", "--project", PROJECT)  # binds
        filled = asyncio.run(fill(urls["source"], args.memories))
        path = args.data_dir / f"export-{suffix}.jsonl"
        took, rss, _ = cli(
            urls["source"], "export", "--project", PROJECT, "--embeddings", "-o", str(path)
        )
        size = path.stat().st_size
        print(
            f"{args.memories} memories ({filled['dimension']} dimensions), "
            f"{args.memories} history rows, {args.memories // 10} messages; filled in SQL in "
            f"{filled['fill_s']:.1f} s; load average {os.getloadavg()[0]:.2f}"
        )
        print(
            f"export: {took:.1f} s, {args.memories / took:,.0f} memories/s, "
            f"peak RSS {rss / 1024:.0f} MiB, file {size / 1e6:.0f} MB"
        )
        import_once(urls["target"], path, args.memories)
        if args.keep:
            print(f"kept: {path} {urls}")
            return
        path.unlink()
        for url in urls.values():
            name = make_url(url).database
            sql_autocommit(server, f'DROP DATABASE "{name}"')
    finally:
        embedded.stop()


if __name__ == "__main__":
    main()
