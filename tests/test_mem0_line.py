"""The load benchmark's mem0 line (bench/mem0_line.py) keeps working: mem0ai loads a tiny corpus
on the session's Postgres with the service's own model and never calls an LLM."""

from __future__ import annotations

import asyncio
import hashlib
import math
from pathlib import Path

import psycopg
import pytest

from bench.corpus import messages
from bench.load import mem0_markdown, user_id
from bench.mem0_line import DATABASE, conninfo, measure
from memos_server.embedding import TextKind, load_embedder
from memos_server.settings import EmbeddingSettings
from tests.support.api import Api
from tests.support.database import fresh_database, new_api_key
from tests.support.paths import MODEL_CACHE
from tests.support.service import ServiceThread, make_settings


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


@pytest.mark.slow
def test_mem0_copy_load_writes_what_its_add_would_with_the_services_vectors(
    pg_url: str, tmp_path: Path
) -> None:
    """``--mem0-load copy``: mem0's rows hold each message as its add(infer=False) stores it,
    with the vector the service stored for that message."""
    url = fresh_database(pg_url)
    settings = make_settings(url, tmp_path, fast={"window_turns": 1, "window_turns_zh": 1})
    service = ServiceThread(settings)
    service.start()
    try:
        with Api(service.base_url, new_api_key(url)) as api:
            for u in range(2):
                api.ok(
                    "/add/message",
                    {
                        "user_id": user_id(u),
                        "conversation_id": "c",
                        "messages": messages(7, u, 0, 4),
                    },
                )
    finally:
        service.stop()
    spec = {
        "users": 2,
        "memories": 4,
        "batch": 4,
        "load_clients": 1,
        "seed": 7,
        "levels": [1],
        "duration": 0.3,
        "phases": ["load", "search"],
        "run": "t",
        "data_dir": str(tmp_path),
        "database_url": url,
        "postmaster": None,
        "load_how": "copy",
    }
    env = {"MEMOS_EMBEDDING__CACHE_DIR": str(MODEL_CACHE), "MEMOS_DATA_DIR": str(tmp_path)}
    report = measure(spec, env)

    assert report["load"]["memories"] == 8
    assert report["load_history"]["how"] == "copy"
    assert report["results_per_search"] == 4  # every memory of the user (top_k 6)
    with psycopg.connect(conninfo(url, DATABASE)) as connection:
        copied = connection.execute(
            f'SELECT vector::text, payload FROM "{report["collection"]}" '  # noqa: S608
            "WHERE payload->>'user_id' LIKE 'bench-u%'"  # not the other test's add levels
        ).fetchall()
    with psycopg.connect(conninfo(url, None)) as connection:
        stored = dict(
            connection.execute("SELECT memory_value, embedding::text FROM memories").fetchall()
        )
    sent = {(user_id(u), m["role"], m["content"]) for u in range(2) for m in messages(7, u, 0, 4)}
    assert {(p["user_id"], p["role"], p["data"]) for _, p in copied} == sent
    for vector, payload in copied:
        assert payload["hash"] == hashlib.md5(payload["data"].encode()).hexdigest()  # noqa: S324
        assert payload["created_at"] == payload["updated_at"]
        assert payload["text_lemmatized"] == payload["data"]  # no spaCy: mem0 keeps the text
        assert vector == stored[f"{payload['role']}: {payload['data']}"]


def test_a_mem0_level_where_no_search_finished_shows_no_per_request_figures() -> None:
    """At 128 clients mem0's searches (seconds each) can all outlast the level: its row says so
    instead of a CPU per request divided by nothing."""
    level = {
        "clients": 128, "requests": 0, "errors": 0, "throughput": 0.0, "p50_ms": 0.0,
        "p95_ms": 0.0, "p99_ms": 0.0, "cpu_busy": 0.96, "floor_ratio": 11247.8,
        "cpu_ms_per_request": {"mem0": 660.0, "postgres": 76050.0},
    }  # fmt: skip
    mem0 = {
        "version": "2.2.1", "model": "local:multilingual-e5-small", "database": "mem0_bench",
        "search": "exact", "llm_calls": 0, "peak_rss_mb": 600.0,
        "dataset": {"users": 2, "memories_per_user": 3},
        "load_history": {"memories": 6, "seconds": 1.0, "how": "copy"},
        "search_levels": [level],
    }  # fmt: skip
    section = "\n".join(mem0_markdown({"mem0": mem0, "batch": 4, "search": [], "add": []}))
    [row] = [line for line in section.splitlines() if line.startswith("| 128 |")]
    assert "none finished within the level" in row
    assert "76050" not in row
    assert "11247" not in row
