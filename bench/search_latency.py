"""Latency of one search/memory call with N memories stored for the user.

Runs against any running memos-server (embedded or not):

    python bench/search_latency.py --base-url http://localhost:8000/api/openmem/v1 --api-key mk-...

Without --base-url it starts its own service (embedded Postgres in a temporary folder) with the
MEMOS_* settings of the environment, e.g. ``MEMOS_EMBEDDING__MODEL=multilingual-e5-small``.

It stores N one-turn memories (mixed Chinese and English) for a new user through the real
add/message path, then times sequential searches over HTTP on loopback and prints p50/p95/p99,
with the machine and the dataset it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

SUBJECTS_EN = ["my sister", "my manager", "our dog", "my son", "the landlord", "my doctor"]
ACTIONS_EN = ["is moving to", "recommended", "complained about", "is visiting", "booked", "loves"]
OBJECTS_EN = ["Hangzhou", "a ramen place", "the new gym", "Lisbon", "a jazz concert", "Kyoto"]
SUBJECTS_ZH = ["我妈妈", "我的同事", "我女儿", "房东", "我的朋友小王", "我们家的猫"]
ACTIONS_ZH = ["下个月要去", "推荐了", "最近迷上了", "周末打算去", "一直想买", "不太喜欢"]
OBJECTS_ZH = ["成都的火锅", "一台新电脑", "西湖边的酒店", "瑜伽课", "日本的温泉", "深圳的展览"]
QUERIES = [
    "我国庆想出去玩，推荐个城市",
    "What does my sister plan to do?",
    "有什么好吃的火锅推荐",
    "Which concerts did I mention?",
    "我女儿喜欢什么",
    "Where is the landlord going?",
]


def sentence(rng: random.Random, i: int) -> str:
    if i % 2:
        who, does, what = rng.choice(SUBJECTS_ZH), rng.choice(ACTIONS_ZH), rng.choice(OBJECTS_ZH)
        return f"{who}{does}{what}（第{i}条）。"
    subject, action, obj = rng.choice(SUBJECTS_EN), rng.choice(ACTIONS_EN), rng.choice(OBJECTS_EN)
    return f"{subject.capitalize()} {action} {obj} (note {i})."


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as info:
            kib = int(next(line.split()[1] for line in info if line.startswith("MemTotal")))
            memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=os.environ.get("MEMOS_BASE_URL"), required=False)
    parser.add_argument("--api-key", default=os.environ.get("MEMOS_API_KEY"), required=False)
    parser.add_argument("--memories", type=int, default=1000)
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.base_url and not args.api_key:
        parser.error("give --api-key (or MEMOS_API_KEY) with --base-url")
    if args.base_url:
        run(args, args.base_url, args.api_key, "the service's embedding model")
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.locomo import own_service

    service, key = own_service(Path(tempfile.mkdtemp(prefix="memos-latency-")))
    model = os.environ.get("MEMOS_EMBEDDING__MODEL", "the default embedding model")
    try:
        run(args, service.base_url, key, f"{model} (own service)")
    finally:
        service.stop()


def run(args: argparse.Namespace, base_url: str, api_key: str, model: str) -> None:
    rng = random.Random(args.seed)
    user = f"bench-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Token {api_key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:

        def add(i: int) -> None:
            body = {
                "user_id": user,
                "conversation_id": f"c{i // 20}",
                "messages": [{"role": "user", "content": sentence(rng, i)}],
            }
            response = client.post("/add/message", json=body)
            response.raise_for_status()

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(add, range(args.memories)))
        load_s = time.perf_counter() - started

        for query in QUERIES:  # warm-up
            client.post("/search/memory", json={"user_id": user, "query": query})
        latencies: list[float] = []
        for i in range(args.searches):
            body = {"user_id": user, "query": QUERIES[i % len(QUERIES)], "memory_limit_number": 6}
            started = time.perf_counter()
            response = client.post("/search/memory", json=body)
            latencies.append((time.perf_counter() - started) * 1000)
            assert response.json()["code"] == 0, response.text
            assert len(response.json()["data"]["memory_detail_list"]) == 6

    print(f"machine : {machine()}")
    print(
        f"dataset : {args.memories} one-turn memories (half zh, half en) for one user, "
        f"stored in {load_s:.1f} s through add/message ({args.memories / load_s:.0f}/s, 4 clients)"
    )
    print(f"search  : {args.searches} sequential calls over loopback HTTP, limit 6, {model}")
    print(
        f"latency : p50 {percentile(latencies, 50):.1f} ms, p95 {percentile(latencies, 95):.1f} ms,"
        f" p99 {percentile(latencies, 99):.1f} ms, mean {statistics.fmean(latencies):.1f} ms"
    )


if __name__ == "__main__":
    main()
