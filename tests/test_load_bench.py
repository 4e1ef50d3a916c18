"""The load benchmark keeps working: a tiny corpus, every phase, the report written twice (the
second time reading from a streaming replica)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import MODEL_CACHE, ROOT

SECTION = "<!-- load-benchmark:start -->"


def run_bench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    env["MEMOS_EMBEDDING__CACHE_DIR"] = str(MODEL_CACHE)
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "load.py"),
            "--data-dir",
            str(tmp_path / "data"),
            "--markdown",
            str(tmp_path / "BENCHMARKS.md"),
            "--json",
            str(tmp_path / "load.json"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
        cwd=ROOT,
    )


@pytest.mark.slow
def test_a_small_load_benchmark_runs_and_reports(tmp_path: Path) -> None:
    (tmp_path / "BENCHMARKS.md").write_text("# Benchmarks\n\nEarlier results stay.\n")
    sizes = ["--users", "3", "--memories", "40", "--batch", "20", "--levels", "1,3"]
    sizes += ["--floor-samples", "5"]
    done = run_bench(tmp_path, *sizes, "--duration", "1")
    assert done.returncode == 0, done.stderr[-3000:]

    report = json.loads((tmp_path / "load.json").read_text())
    assert report["dataset"]["messages"] == 120
    assert report["load"]["messages"] == 120
    # The memories stored, counted: fast mode's windows, about one per exchange.
    fewest, most = report["dataset"]["memories_per_user"]
    assert 20 <= fewest <= most <= 40
    assert report["dataset"]["memories"] >= 60
    assert [level["clients"] for level in report["search"]] == [1, 3]
    for level in report["search"] + report["add"]:
        assert level["requests"] > 0
        assert level["errors"] == 0, level["error_samples"]
        assert 0 < level["p50_ms"] <= level["p95_ms"] <= level["p99_ms"]
    assert all(level["messages_per_s"] > 0 for level in report["add"])
    assert report["peak_rss_mb"] > 50

    markdown = (tmp_path / "BENCHMARKS.md").read_text()
    assert "Earlier results stay." in markdown
    assert "| clients | requests/s | p50 ms | p95 ms | p99 ms | requests | errors |" in markdown
    assert report["search"][0]["cpu_ms_per_request"]["service"] > 0
    # The floor, measured in the same run: each channel's SQL, the model, a multiple per level.
    floor = report["floor"]
    assert any("<=>" in sql for sql in floor["search_statements"])
    assert any("ts_match_vq" in sql for sql in floor["search_statements"])
    assert floor["add_statements"][0].startswith("INSERT INTO memories ")
    for phase in ("search", "add"):
        assert floor[phase]["embedding_ms"] > 0  # (Postgres: 10 ms ticks, maybe 0 here)
        # Timed before the first level and after each; each level against the two around it.
        assert floor[phase]["timings"] == 3
        low, high = floor[phase]["total_range_ms"]
        for level in report[phase]:
            assert low <= level["floor_ms"] <= high
            assert level["floor_ratio"] > 0
    assert report["warm"] == {"searches": 3, "seconds": report["warm"]["seconds"], "errors": 0}
    assert "Floor, measured in this run" in markdown

    # A second run measures the same corpus without loading it again, reading from a streaming
    # replica of it, and replaces the section.
    again = run_bench(tmp_path, *sizes, "--duration", "1", "--phases", "search", "--replica")
    assert again.returncode == 0, again.stderr[-3000:]
    report = json.loads((tmp_path / "load.json").read_text())
    assert "load" not in report
    assert report["reads"].get("replica", 0) >= sum(level["requests"] for level in report["search"])
    assert "the Postgres column counts the primary's and the replica's CPU" in report["service"]
    assert all(level["errors"] == 0 for level in report["search"])
    assert report["dataset"]["messages"] == 120
    markdown = (tmp_path / "BENCHMARKS.md").read_text()
    assert markdown.count(SECTION) == 1
    assert "120 messages in" in markdown  # the ingest figure of the earlier load run
    assert f"stored as **{report['dataset']['memories']:,} memories**" in markdown
