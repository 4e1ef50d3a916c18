"""search/memory latency with and without knowledge bases, and document ingestion speed.

    python bench/knowledge_latency.py [--passages 10000] [--memories 1000] [--searches 100]
                                      [--data-dir DIR]

Starts its own service (embedded Postgres in a temporary folder, or in ``--data-dir``; MEMOS_*
settings of the environment apply), stores one user's memories through add/message, uploads text
documents that make about ``--passages`` passages into one knowledge base (timing their jobs:
passages/s), then times sequential searches alternating without and with ``knowledgebase_ids``
and prints p50/p95 of each and their ratio. With ``--data-dir``, what was stored is noted in
``DIR/bench.json`` and a later run on the same folder only searches (the service is started
again, so the code under test may have changed in between).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.search_latency import QUERIES, machine, percentile, sentence

PARAGRAPHS_PER_FILE = 500
TOPICS = ["退货政策", "Shipping", "低敏狗粮", "Warranty", "会员积分", "Opening hours"]


def paragraph(rng: random.Random, i: int) -> str:
    """About one passage's worth (the default target is 500 characters)."""
    topic = rng.choice(TOPICS)
    if i % 2:
        body = "".join(sentence(rng, i * 31 + k) for k in range(12))
    else:
        body = " ".join(sentence(rng, i * 31 + k) for k in range(8))
    return f"{topic}: {body}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--memories", type=int, default=1000)
    parser.add_argument("--searches", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, help="keep (or reuse) the stored data here")
    args = parser.parse_args()
    from bench.locomo import own_service

    workdir = args.data_dir or Path(tempfile.mkdtemp(prefix="memos-kb-latency-"))
    workdir.mkdir(parents=True, exist_ok=True)
    service, key = own_service(workdir)
    try:
        run(args, service.base_url, key, workdir / "bench.json" if args.data_dir else None)
    finally:
        service.stop()


def run(args: argparse.Namespace, base_url: str, api_key: str, state: Path | None) -> None:
    stored = json.loads(state.read_text()) if state is not None and state.exists() else None
    if stored is not None:
        api_key = stored["api_key"]  # the first run's key (a new bootstrap key is not stored)
    headers = {"Authorization": f"Token {api_key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        if stored is None:
            stored = store(args, client, api_key)
            if state is not None:
                state.write_text(json.dumps(stored))
        search_times(args, client, stored)


def store(args: argparse.Namespace, client: httpx.Client, api_key: str) -> dict[str, Any]:
    """One user's memories and one knowledge base's documents, stored and processed."""
    rng = random.Random(args.seed)
    user = f"bench-{uuid.uuid4().hex[:8]}"

    def add(i: int) -> None:
        body = {
            "user_id": user,
            "conversation_id": f"c{i // 20}",
            "messages": [{"role": "user", "content": sentence(rng, i)}],
        }
        client.post("/add/message", json=body).raise_for_status()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(add, range(args.memories)))

    base = client.post("/create/knowledgebase", json={"knowledgebase_name": "bench"})
    base_id = base.json()["data"]["id"]
    files: list[str] = []
    started = time.perf_counter()
    for start in range(0, args.passages, PARAGRAPHS_PER_FILE):
        text = "\n\n".join(
            paragraph(rng, i) for i in range(start, min(args.passages, start + PARAGRAPHS_PER_FILE))
        )
        content = base64.b64encode(text.encode()).decode()
        body = {
            "knowledgebase_id": base_id,
            "file": [{"name": f"doc{start}.txt", "content": content}],
        }
        response = client.post("/add/knowledgebase-file", json=body)
        assert response.json()["code"] == 0, response.text
        files.extend(f["id"] for f in response.json()["data"])
    while True:
        got = client.post("/get/knowledgebase-file", json={"file_ids": files}).json()
        details = got["data"]["file_detail_list"]
        if all(f["status"] != "running" for f in details):
            break
        time.sleep(1)
    ingest_s = time.perf_counter() - started
    assert all(f["status"] == "completed" for f in details), details
    passages = sum(f["passages"] for f in details)
    print(
        f"ingest   : {len(files)} txt documents, {passages} passages in {ingest_s:.1f} s "
        f"({passages / ingest_s:.0f} passages/s, upload to completed)"
    )
    return {
        "api_key": api_key,
        "user": user,
        "base_id": base_id,
        "passages": passages,
        "memories": args.memories,
    }


def search_times(args: argparse.Namespace, client: httpx.Client, stored: dict[str, Any]) -> None:
    """Sequential searches alternating without and with the knowledge base; p50/p95 of each."""

    def search(query: str, with_kb: bool) -> float:
        body: dict[str, object] = {"user_id": stored["user"], "query": query}
        if with_kb:
            body["knowledgebase_ids"] = [stored["base_id"]]
        began = time.perf_counter()
        response = client.post("/search/memory", json=body)
        elapsed = (time.perf_counter() - began) * 1000
        assert response.json()["code"] == 0, response.text
        return elapsed

    for query in QUERIES:  # warm-up
        search(query, False)
        search(query, True)
    plain: list[float] = []
    with_kb: list[float] = []
    for i in range(args.searches):
        query = QUERIES[i % len(QUERIES)]
        plain.append(search(query, False))
        with_kb.append(search(query, True))

    print(f"machine  : {machine()}")
    print(f"model    : {os.environ.get('MEMOS_EMBEDDING__MODEL', 'the default model')}")
    print(
        f"dataset  : {stored['memories']} memories for one user; "
        f"{stored['passages']} passages in one base"
    )
    p50, p50kb = percentile(plain, 50), percentile(with_kb, 50)
    print(f"search   : p50 {p50:.1f} ms, p95 {percentile(plain, 95):.1f} ms (memories only)")
    print(
        f"with kb  : p50 {p50kb:.1f} ms, p95 {percentile(with_kb, 95):.1f} ms "
        f"(knowledgebase_ids: the base); ratio of p50s {p50kb / p50:.2f}"
    )


if __name__ == "__main__":
    main()
