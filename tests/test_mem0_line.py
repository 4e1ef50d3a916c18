"""The load benchmark's mem0 line (bench/mem0_line.py) keeps working: mem0ai loads a tiny corpus
on the session's Postgres with the service's own model and never calls an LLM."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import psycopg
import pytest

from bench.load import mem0_markdown
from bench.mem0_line import DATABASE, conninfo, measure
from memos_server.embedding import TextKind, load_embedder
from memos_server.settings import EmbeddingSettings
from tests.support.paths import MODEL_CACHE


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


@pytest.mark.slow
def test_mem0_runs_on_the_same_postgres_and_model_without_an_llm(
    pg_url: str, tmp_path: Path
) -> None:
    spec = {
        "users": 2,
        "memories": 8,
        "batch": 4,
        "load_clients": 2,
        "seed": 7,
        "levels": [2],
        "duration": 0.5,
        "phases": ["load", "search", "add"],
        "run": "t",
        "data_dir": str(tmp_path),
        "database_url": pg_url,
        "postmaster": None,
    }
    env = {"MEMOS_EMBEDDING__CACHE_DIR": str(MODEL_CACHE), "MEMOS_DATA_DIR": str(tmp_path)}
    report = measure(spec, env)

    assert report["llm_calls"] == 0
    assert report["load"]["memories"] == 16
    for level in report["search_levels"] + report["add_levels"]:
        assert level["requests"] > 0
        assert level["errors"] == 0, level["error_samples"]
        assert 0 < level["p50_ms"] <= level["p95_ms"] <= level["p99_ms"]
    assert report["results_per_search"] > 0
    # Exact: mem0's vector query reads the user's rows, no approximate index.
    vector_plan = next(p["plan"] for p in report["search_plan"] if "<=>" in p["sql"])
    assert any(line.startswith("->  Seq Scan") for line in vector_plan)
    assert report["peak_rss_mb"] > 50

    # mem0's stored vectors are the service model's passage vectors (the e5 prefix included).
    with psycopg.connect(conninfo(pg_url, DATABASE)) as connection:
        rows = connection.execute(
            f"SELECT vector::text, payload->>'data' FROM \"{report['collection']}\" "  # noqa: S608
            "WHERE payload->>'user_id' = 'bench-u00000' LIMIT 2"
        ).fetchall()
    assert len(rows) == 2

    async def vectors(kind: TextKind) -> list[list[float]]:
        settings = EmbeddingSettings()
        embedder = await load_embedder(settings, MODEL_CACHE)
        try:
            return await embedder.embed([text for _, text in rows], kind)
        finally:
            await embedder.aclose()

    stored = [[float(x) for x in vector.strip("[]").split(",")] for vector, _ in rows]
    for mine, theirs in zip(stored, asyncio.run(vectors(TextKind.PASSAGE)), strict=True):
        assert cosine(mine, theirs) > 0.9999
    for mine, theirs in zip(stored, asyncio.run(vectors(TextKind.QUERY)), strict=True):
        assert cosine(mine, theirs) < 0.999

    section = "\n".join(mem0_markdown({"mem0": report, "batch": 4, "search": [], "add": []}))
    assert "### mem0 OSS 2.2.1, beside it" in section
    assert "| clients | requests/s | x memos-server | p50 ms |" in section
    assert "LLM calls: **0**" in section
