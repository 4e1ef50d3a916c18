"""One very long Chinese message: how long it takes to store, and what it does to other requests.

Everything runs on this machine: an embedded Postgres in a temporary folder (or
MEMOS_DATABASE__URL) and ``memos-server serve`` in fast mode.

    .venv/bin/python bench/long_message.py [--chars 32000] [--repeat 3]

For each of add/message (one message of ``--chars`` characters, "广州旅游酒店" repeated),
add/feedback and update/memory (the same text), it prints the time the request takes while
another thread polls ``/healthz`` every 10 ms, and that probe's max and p50 latency meanwhile;
first the probe's latency with nothing else running, for scale (a loaded machine shows in both).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest_jobs import database_url  # noqa: E402
from bench.search_latency import machine  # noqa: E402
from tests.support.database import new_api_key  # noqa: E402
from tests.support.process import ServiceProcess  # noqa: E402

PHRASE = "广州旅游酒店"


class Prober:
    """Polls ``/healthz`` from its own thread and keeps every latency."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(base_url=self.root, timeout=60) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                client.get("/healthz").raise_for_status()
                self.latencies.append(time.perf_counter() - started)
                time.sleep(0.01)


def timed(root: str, send: httpx.Client, path: str, body: object) -> dict[str, float]:
    with Prober(root) as probe:
        time.sleep(0.1)  # the prober is warm before the request starts
        started = time.perf_counter()
        response = send.post(path, json=body)
        elapsed = time.perf_counter() - started
        time.sleep(0.05)
    if response.status_code != 200 or response.json()["code"] != 0:
        raise SystemExit(f"{path} failed: {response.text[:300]}")
    return {
        "seconds": elapsed,
        "healthz_max_ms": max(probe.latencies) * 1000,
        "healthz_p50_ms": statistics.median(probe.latencies) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=32_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    text = (PHRASE * (args.chars // len(PHRASE) + 1))[: args.chars - args.chars % len(PHRASE)]

    workdir = Path(tempfile.mkdtemp(prefix="memos-bench-"))
    url = database_url(workdir)
    service = ServiceProcess(workdir, "serve", "--no-worker", MEMOS_DATABASE__URL=url).start()
    root = service.base_url.split("/api/")[0]
    print(f"machine: {machine()}; message: {len(text):,} characters")
    try:
        with httpx.Client(
            base_url=service.base_url,
            headers={"Authorization": f"Token {new_api_key(url)}"},
            timeout=300,
        ) as client:
            user = f"bench-{uuid.uuid4().hex[:8]}"
            warm = {"user_id": user, "conversation_id": "warm"}
            client.post(
                "/add/message", json={**warm, "messages": [{"role": "user", "content": "你好"}]}
            )
            with Prober(root) as idle:  # the probe's own latency on this machine, right now
                time.sleep(2)
            print(
                f"idle           /healthz max {max(idle.latencies) * 1000:8.1f} ms  "
                f"p50 {statistics.median(idle.latencies) * 1000:6.1f} ms"
            )
            for run in range(args.repeat):
                conversation = f"long-{run}"
                add = timed(
                    root,
                    client,
                    "/add/message",
                    {
                        "user_id": user,
                        "conversation_id": conversation,
                        "messages": [{"role": "user", "content": text}],
                    },
                )
                feedback = timed(
                    root,
                    client,
                    "/add/feedback",
                    {"user_id": user, "conversation_id": conversation, "feedback_content": text},
                )
                listed = client.post("/get/memory", json={"user_id": user, "size": 1}).json()
                memory_id = listed["data"]["memory_detail_list"][0]["id"]
                update = timed(
                    root,
                    client,
                    "/update/memory",
                    {"user_id": user, "memory_id": memory_id, "content": text[::-1]},
                )
                for name, figures in (
                    ("add/message", add),
                    ("add/feedback", feedback),
                    ("update/memory", update),
                ):
                    high, p50 = figures["healthz_max_ms"], figures["healthz_p50_ms"]
                    print(
                        f"run {run + 1} {name:14s} {figures['seconds']:7.2f} s   "
                        f"/healthz max {high:8.1f} ms  p50 {p50:6.1f} ms"
                    )
    finally:
        service.stop()


if __name__ == "__main__":
    main()
