"""Asynchronous ingestion: add/message latency, and fine-extraction jobs per minute by workers.

Everything runs on this machine: a scripted OpenAI-compatible LLM server that answers every call
after a fixed delay (500 ms by default), an embedded Postgres in a temporary folder (or
MEMOS_DATABASE__URL), an API-only service (``serve --no-worker``) and 1 or 2 ``memos-server
worker`` processes.

    .venv/bin/python bench/ingest_jobs.py [--jobs 120] [--delay-ms 500] [--concurrency 4]

1. add latency: sequential async adds (the seed's 4-message hotel conversation, one user each)
   while no worker runs, p50/p95/p99 over HTTP on loopback;
2. throughput: N jobs queued, then k workers started; jobs per minute from the moment they are
   ready until the last task completes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.search_latency import machine, percentile  # noqa: E402
from tests.fake_llm import FakeLLM, Reply  # noqa: E402
from tests.support.database import new_api_key, sql  # noqa: E402
from tests.support.process import ServiceProcess  # noqa: E402

HOTEL = [
    {"role": "user", "content": "我暑假定好去广州旅游，住宿的话有哪些连锁酒店可选？"},
    {"role": "assistant", "content": "您可以考虑【七天、全季、希尔顿】等等"},
    {"role": "user", "content": "我选七天"},
    {"role": "assistant", "content": "好的，有其他问题再问我。"},
]
FACT = (
    '{"memories": [{"memory_key": "暑假广州旅游计划", "memory_value": "[user观点]用户计划在暑假'
    '期间前往广州旅游，并选择了七天连锁酒店作为住宿选项。", "tags": ["旅游", "广州"]}]}'
)


def database_url(workdir: Path) -> str:
    configured = os.environ.get("MEMOS_DATABASE__URL")
    if configured:
        return configured
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    server = pgserver.get_server(workdir / "pg", cleanup_mode="delete")
    url: str = server.get_uri()
    return url


def queue(client: httpx.Client, count: int) -> tuple[list[str], list[float]]:
    tasks, latencies = [], []
    for _ in range(count):
        body = {"user_id": f"bench-{uuid.uuid4().hex[:10]}", "conversation_id": "0610"}
        started = time.perf_counter()
        response = client.post("/add/message", json={**body, "messages": HOTEL})
        latencies.append((time.perf_counter() - started) * 1000)
        data = response.json()["data"]
        assert data["status"] == "running", data
        tasks.append(data["task_id"])
    return tasks, latencies


def wait_all(url: str, tasks: list[str], timeout_s: float = 1800) -> None:
    """Until every task is completed: one query per poll (polling each task over HTTP would
    load the service more than the jobs do)."""
    deadline = time.monotonic() + timeout_s
    while True:
        [counts] = sql(
            url,
            "SELECT count(*) FILTER (WHERE status = 'running') AS running,"
            " count(*) FILTER (WHERE status = 'failed') AS failed"
            " FROM tasks WHERE id = ANY(CAST(:ids AS uuid[]))",
            ids=tasks,
        )
        if counts["failed"]:
            raise RuntimeError(f"{counts['failed']} tasks failed")
        if not counts["running"]:
            return
        assert time.monotonic() < deadline, f"{counts['running']} tasks still running"
        time.sleep(0.25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=120, help="jobs per worker-count run")
    parser.add_argument("--delay-ms", type=int, default=500, help="the LLM's fixed delay")
    parser.add_argument("--concurrency", type=int, default=4, help="jobs in flight per worker")
    args = parser.parse_args()

    llm = FakeLLM()
    llm.start()
    delay = args.delay_ms / 1000

    llm.script(
        {
            "facts": Reply(content=FACT, delay_s=delay),
            "preferences": Reply(content='{"preferences": []}', delay_s=delay),
        }
    )
    workdir = Path(tempfile.mkdtemp(prefix="memos-bench-"))
    url = database_url(workdir)
    env = {
        "MEMOS_DATABASE__URL": url,
        "MEMOS_LLM__BASE_URL": llm.base_url,
        "MEMOS_LLM__MODEL": "scripted",
        "MEMOS_JOBS__CONCURRENCY": str(args.concurrency),
        "MEMOS_JOBS__POLL_INTERVAL_S": "0.2",
    }
    api = ServiceProcess(workdir, "serve", "--no-worker", **env).start()
    key = new_api_key(url)
    results = []
    try:
        with httpx.Client(
            base_url=api.base_url, headers={"Authorization": f"Token {key}"}, timeout=60
        ) as client:
            warm, _ = queue(client, 10)  # warm-up: the first requests build lazy parts
            measured, latencies = queue(client, args.jobs)
            # Drain what the latency phase queued, so each run below starts from an empty queue.
            drain = ServiceProcess(workdir, "worker", **env).start()
            wait_all(url, warm + measured)
            drain.stop()
            for workers in (1, 2):
                tasks, _ = queue(client, args.jobs)
                processes = [ServiceProcess(workdir, "worker", **env) for _ in range(workers)]
                for process in processes:
                    process.start(wait_ready=False)
                for process in processes:
                    process.wait_ready()
                started = time.perf_counter()
                wait_all(url, tasks)
                elapsed = time.perf_counter() - started
                results.append((workers, len(tasks) / elapsed * 60, elapsed))
                for process in processes:
                    process.stop()
    finally:
        api.stop()
        llm.stop()

    print(f"machine : {machine()}")
    print(
        f"setup   : embedded Postgres 16, API-only service + worker processes, local "
        f"all-MiniLM-L6-v2, scripted LLM answering every call after {args.delay_ms} ms "
        f"(2 calls per job, made at once), {args.concurrency} jobs in flight per worker"
    )
    print(
        f"add     : {len(latencies)} sequential async adds (4 messages each): "
        f"p50 {percentile(latencies, 50):.1f} ms, p95 {percentile(latencies, 95):.1f} ms, "
        f"p99 {percentile(latencies, 99):.1f} ms, mean {statistics.fmean(latencies):.1f} ms"
    )
    for workers, per_minute, elapsed in results:
        print(
            f"jobs    : {workers} worker(s): {args.jobs} jobs in {elapsed:.1f} s = "
            f"{per_minute:.0f} jobs/min"
        )


if __name__ == "__main__":
    main()
