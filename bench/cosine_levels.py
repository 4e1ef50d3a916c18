"""Where a model's cosines fall for relevant and for unrelated memories, per language.

The default relevance floor and fine mode's thresholds (``embedding/levels.py``) are cosine
levels of one model; this prints what they are chosen from, embedding single messages (no
service, no windows, no fusion):

- Chinese (``bench/data/zh_dev.json``): for each request, the best cosine among its evidence
  messages, and for each request of ``zh_unrelated.json`` (subjects the persona never mentioned)
  the best cosine among that persona's messages;
- English (LoCoMo, read by path): for each question of the first ``--conversations``, the best
  cosine among its evidence turns, and the best among the turns of the next conversation (another
  user's chat).

    PYTHONPATH=src .venv/bin/python bench/cosine_levels.py [--model all-MiniLM-L6-v2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.locomo import DEFAULT_DATASET, turn_text  # noqa: E402
from bench.zh_recall import DATASET, UNRELATED, load, messages_by_id  # noqa: E402

PERCENTILES = (5, 10, 25, 50, 75, 90, 95)


async def vectors(embedder: Any, texts: list[str], kind: Any) -> np.ndarray[Any, Any]:
    return np.asarray(await embedder.embed(texts, kind), dtype=np.float32)


async def by_id(embedder: Any, texts: dict[str, str], kind: Any) -> dict[str, Any]:
    rows = await vectors(embedder, list(texts.values()), kind)
    return dict(zip(texts, rows, strict=True))


async def chinese(embedder: Any, kind: Any) -> tuple[list[float], list[float]]:
    data = load(DATASET)
    messages = messages_by_id(data)
    ids = list(messages)
    stored = await by_id(embedder, {i: messages[i]["content"] for i in ids}, kind.PASSAGE)
    queries = data["queries"]
    asked = await vectors(embedder, [q["query"] for q in queries], kind.QUERY)
    relevant = [
        max(float(v @ stored[e]) for e in q["evidence"])
        for q, v in zip(queries, asked, strict=True)
    ]
    unrelated_queries = load(UNRELATED)["queries"]
    other = await vectors(embedder, [q["query"] for q in unrelated_queries], kind.QUERY)
    unrelated = [
        max(float(v @ stored[i]) for i in ids if messages[i]["user"] == q["user"])
        for q, v in zip(unrelated_queries, other, strict=True)
    ]
    return relevant, unrelated


async def english(
    embedder: Any, kind: Any, samples: list[dict[str, Any]], count: int
) -> tuple[list[float], ...]:
    turns = []
    for sample in samples:
        conversation = sample["conversation"]
        texts = {
            turn["dia_id"]: turn_text(turn)
            for key, session in conversation.items()
            if key.startswith("session_") and isinstance(session, list)
            for turn in session
        }
        turns.append(await by_id(embedder, texts, kind.PASSAGE))
    relevant, unrelated = [], []
    for index, sample in enumerate(samples[:count]):
        questions = [q for q in sample["qa"] if any(e in turns[index] for e in q["evidence"])]
        asked = await vectors(embedder, [q["question"] for q in questions], kind.QUERY)
        others = np.stack(list(turns[index + 1].values()))
        for question, vector in zip(questions, asked, strict=True):
            evidence = [turns[index][e] for e in question["evidence"] if e in turns[index]]
            relevant.append(max(float(vector @ e) for e in evidence))
            unrelated.append(float((others @ vector).max()))
    return relevant, unrelated


def row(name: str, values: list[float]) -> str:
    cells = " | ".join(f"{np.percentile(values, p):.3f}" for p in PERCENTILES)
    return f"| {name} | {len(values)} | {cells} |"


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", default="multilingual-e5-small")
    parser.add_argument("--locomo", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--conversations", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=ROOT / "test-artifacts" / "models")
    args = parser.parse_args()

    from memos_server.embedding import TextKind
    from memos_server.embedding.local import load_local
    from memos_server.settings import EmbeddingSettings

    embedder = load_local(EmbeddingSettings(model=args.model), args.cache)
    try:
        zh = await chinese(embedder, TextKind)
        samples = json.loads(args.locomo.read_text(encoding="utf-8"))[: args.conversations + 1]
        en = await english(embedder, TextKind, samples, args.conversations)
    finally:
        await embedder.aclose()
    print(f"Cosine levels of {args.model} (single messages; best per request)\n")
    print("| | requests | " + " | ".join(f"p{p}" for p in PERCENTILES) + " |")
    print("|---|---:|" + "---:|" * len(PERCENTILES))
    print(row("zh_dev: best evidence message", zh[0]))
    print(row("zh_unrelated: best message of the persona", zh[1]))
    print(row("LoCoMo: best evidence turn", en[0]))
    print(row("LoCoMo: best turn of another conversation", en[1]))


if __name__ == "__main__":
    asyncio.run(main())
