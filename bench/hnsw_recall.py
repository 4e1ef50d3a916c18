"""Per-user HNSW indexes against the exact scan: recall, latency, build time.

Reads the corpus bench/load.py stored (run its load phase first) straight from the database,
while no service runs on it:

    .venv/bin/python bench/hnsw_recall.py                    # the embedded Postgres in .bench-data
    .venv/bin/python bench/hnsw_recall.py --database-url postgresql://...

For ``--users`` loaded users, plus one large user made by copying ``--big`` users' memories
(with their vectors) under one id, it builds each user's index the way the service does
(``vector_indexes.create_index``), asks ``--queries`` persona questions per user through the
search's own vector channel (``MemoryRepository.nearest_hits``) with and without the index, and
reports recall@10 and recall@50 of the index against the exact answer and the query time of both,
for several ``ef_search`` values. The indexes and the large user are removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.corpus import query  # noqa: E402
from bench.load import State, optional_path, user_id, write_markdown  # noqa: E402
from bench.search_latency import machine, percentile  # noqa: E402

SECTION_START = "<!-- hnsw-recall:start -->"
SECTION_END = "<!-- hnsw-recall:end -->"
BIG_USER = "bench-hnsw-big"


def embedded_url(data_dir: Path) -> tuple[str, Any]:
    from memos_server.storage.embedded import EmbeddedPostgres

    embedded = EmbeddedPostgres(data_dir)
    return embedded.start(), embedded


async def measure(args: argparse.Namespace, url: str, seed: int) -> dict[str, Any]:
    from sqlalchemy import text

    from memos_server.embedding.local import load_local
    from memos_server.settings import DatabaseSettings, EmbeddingSettings
    from memos_server.storage.database import Database
    from memos_server.storage.repositories.memories import MemoryRepository
    from memos_server.storage.repositories.memory_scopes import HnswScan, Scope
    from memos_server.storage.repositories.vector_indexes import (
        UserKind,
        create_index,
        drop_index,
    )

    database = Database(url, DatabaseSettings(pool_size=2, max_overflow=0))
    embedder = load_local(EmbeddingSettings(), args.data_dir / "models")
    rng = random.Random(seed)
    try:
        async with database.session() as session:
            project_id = await session.scalar(
                text("SELECT project_id FROM memories WHERE user_id = :u LIMIT 1"),
                {"u": user_id(0)},
            )
            if project_id is None:
                raise SystemExit("no loaded corpus: run bench/load.py --phases load first")
            copied = [user_id(i) for i in range(args.users, args.users + args.big)]
            await session.execute(
                text(
                    "INSERT INTO memories (id, project_id, user_id, conversation_id, kind, mode, "
                    "memory_key, memory_value, memory_type, tags, memory_time, confidence, status, "
                    "embedding, source_message_ids, info, search_text) "
                    "SELECT gen_random_uuid(), project_id, :big, conversation_id, kind, mode, "
                    "memory_key, memory_value, memory_type, tags, memory_time, confidence, status, "
                    "embedding, source_message_ids, info, search_text FROM memories "
                    "WHERE user_id = ANY(:copied) AND status = 'activated'"
                ),
                {"big": BIG_USER, "copied": copied},
            )
            await session.commit()
            await session.execute(text("ANALYZE memories"))
        people = [(user_id(i), i) for i in range(args.users)] + [(BIG_USER, args.users)]
        sizes: dict[str, int] = {}
        build_s: dict[str, float] = {}
        async with database.engine.connect() as raw:
            connection = await raw.execution_options(isolation_level="AUTOCOMMIT")
            for name, _ in people:
                target = UserKind(project_id, name, "fact")
                started = time.perf_counter()
                await create_index(connection, target, embedder.dimension, 16, 64)
                build_s[name] = time.perf_counter() - started
                sizes[name] = int(
                    await connection.scalar(
                        text("SELECT count(*) FROM memories WHERE user_id = :u"), {"u": name}
                    )
                    or 0
                )
        results: dict[str, Any] = {"groups": []}
        try:
            for group, members in (
                (f"{args.users} users x {sizes[people[0][0]]:,} memories", people[:-1]),
                (f"1 user x {sizes[BIG_USER]:,} memories", people[-1:]),
            ):
                questions = [
                    (name, query(rng, seed, number))
                    for name, number in members
                    for _ in range(args.queries if len(members) > 1 else args.queries * 10)
                ]
                vectors = await embedder.embed([q for _, q in questions])
                rows: list[dict[str, Any]] = []
                exact_ms: list[float] = []
                exact_answers: list[list[float]] = []
                async with database.session() as session:
                    repository = MemoryRepository(session)
                    for (name, _), vector in zip(questions, vectors, strict=True):
                        started = time.perf_counter()
                        hits = await repository.nearest_hits(
                            Scope(project_id, name), "fact", vector, 50
                        )
                        exact_ms.append((time.perf_counter() - started) * 1000)
                        exact_answers.append([h.similarity for h in hits])
                    for ef in args.ef:
                        recall10: list[float] = []
                        recall50: list[float] = []
                        hnsw_ms: list[float] = []
                        for (name, _), vector, exact in zip(
                            questions, vectors, exact_answers, strict=True
                        ):
                            started = time.perf_counter()
                            hits = await repository.nearest_hits(
                                Scope(project_id, name),
                                "fact",
                                vector,
                                50,
                                HnswScan(embedder.dimension, ef),
                            )
                            hnsw_ms.append((time.perf_counter() - started) * 1000)
                            found = [h.similarity for h in hits]
                            recall10.append(recall(found, exact, 10))
                            recall50.append(recall(found, exact, 50))
                        rows.append(
                            {
                                "ef_search": ef,
                                "recall_at_10": round(sum(recall10) / len(recall10), 4),
                                "recall_at_50": round(sum(recall50) / len(recall50), 4),
                                "hnsw_p50_ms": round(percentile(hnsw_ms, 50), 2),
                                "hnsw_p95_ms": round(percentile(hnsw_ms, 95), 2),
                            }
                        )
                results["groups"].append(
                    {
                        "group": group,
                        "queries": len(questions),
                        "exact_p50_ms": round(percentile(exact_ms, 50), 2),
                        "exact_p95_ms": round(percentile(exact_ms, 95), 2),
                        "build_s": round(sum(build_s[n] for n, _ in members) / len(members), 2),
                        "rows": rows,
                    }
                )
        finally:
            async with database.engine.connect() as raw:
                connection = await raw.execution_options(isolation_level="AUTOCOMMIT")
                for name, _ in people:
                    await drop_index(connection, UserKind(project_id, name, "fact").index_name)
                await connection.execute(
                    text("DELETE FROM memories WHERE user_id = :u"), {"u": BIG_USER}
                )
        return results
    finally:
        await embedder.aclose()
        await database.dispose()


def recall(found: list[float], exact: list[float], k: int) -> float:
    """Share of the true k nearest the index returned. Tie-aware: the corpus repeats sentences,
    so any memory as close as the exact k-th counts (ids of equal vectors are interchangeable).
    """
    k = min(k, len(exact))
    if k == 0:
        return 1.0
    threshold = exact[k - 1] - 1e-6
    return min(k, sum(1 for similarity in found[:k] if similarity >= threshold)) / k


def markdown(results: dict[str, Any], command: str) -> str:
    lines = [
        SECTION_START,
        f"## Per-user HNSW index vs exact scan ({time.strftime('%Y-%m-%d')})",
        "",
        f"- Machine: {machine()}",
        "- Data: the load benchmark's corpus; the large user is the memories of several corpus "
        "users copied under one id (real vectors and text).",
        "- Query time is one vector-channel query (50 candidates, as search uses) from Python "
        "through SQLAlchemy to the embedded Postgres; recall is of the index's 10 / 50 against "
        "the exact scan's (tie-aware: a memory as close as the exact k-th counts).",
        f"- Command: `{command}`",
        "",
        "| user size | ef_search | recall@10 | recall@50 | HNSW p50 ms | HNSW p95 ms | "
        "exact p50 ms | exact p95 ms | index build s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for group in results["groups"]:
        for row in group["rows"]:
            lines.append(
                f"| {group['group']} | {row['ef_search']} | {row['recall_at_10']:.3f} | "
                f"{row['recall_at_50']:.3f} | {row['hnsw_p50_ms']} | {row['hnsw_p95_ms']} | "
                f"{group['exact_p50_ms']} | {group['exact_p95_ms']} | {group['build_s']} |"
            )
    lines += ["", SECTION_END]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".bench-data")
    parser.add_argument("--database-url", help="default: the embedded Postgres in --data-dir")
    parser.add_argument("--users", type=int, default=20, help="corpus users to index")
    parser.add_argument("--big", type=int, default=10, help="corpus users merged into one")
    parser.add_argument("--queries", type=int, default=20, help="questions per user")
    parser.add_argument("--ef", default="40,100,200", help="ef_search values")
    parser.add_argument("--markdown", type=optional_path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    args.ef = [int(x) for x in args.ef.split(",")]
    state = State.read(args.data_dir / "bench-state.json")
    seed = state.seed if state else 7
    embedded = None
    url = args.database_url
    if url is None:
        url, embedded = embedded_url(args.data_dir)
    try:
        results = asyncio.run(measure(args, url, seed))
    finally:
        if embedded is not None:
            embedded.stop()
    section = markdown(results, "python bench/hnsw_recall.py " + " ".join(sys.argv[1:]))
    print(section)
    if args.markdown:
        write_markdown(args.markdown, section, SECTION_START, SECTION_END)


if __name__ == "__main__":
    main()
