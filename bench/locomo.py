"""LoCoMo turn-level retrieval through the real API: recall@5/10/25/50 per category.

Each conversation is ingested as one user (each session one add, each turn a message with its
speaker in the text and ``chat_time`` from the session date); every question with evidence is
asked through ``search/memory``; returned memories are mapped back to turns through their
sources; turns are ranked by first appearance and cut at k. The dataset is read from its path
(CC BY-NC 4.0; never copied into the repo).

    .venv/bin/python bench/locomo.py [--dataset ../shared/bench-data/locomo/locomo10.json]
        [--conversations 10] [--relativity default,0,0.3] [--base-url URL --api-key KEY]

Without --base-url it starts its own service (embedded Postgres in a temporary folder, fast mode)
with the MEMOS_* settings of the environment, e.g. MEMOS_SEARCH__CHANNELS=vector for the
vector-only line. ``--relativity`` asks each question once per floor (the request's
``relativity``: memories scoring under it are dropped) and prints one table per floor.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.search_latency import machine, percentile  # noqa: E402

KS = (5, 10, 25, 50)
DEFAULT_DATASET = ROOT.parent / "shared" / "bench-data" / "locomo" / "locomo10.json"


def session_time(text: str) -> str:
    """'1:56 pm on 8 May, 2023' → '2023-05-08 13:56:00'."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").strftime("%Y-%m-%d %H:%M:%S")


def turn_text(turn: dict[str, Any]) -> str:
    text = f"{turn['speaker']}: {turn['text']}"
    if turn.get("blip_caption"):
        text += f" [shares a photo: {turn['blip_caption']}]"
    return text


def evidence_ids(raw: list[str]) -> set[str]:
    found = set()
    for item in raw:
        for match in re.findall(r"D\s*:?\s*(\d+)\s*:\s*(\d+)", item):
            found.add(f"D{int(match[0])}:{int(match[1])}")
    return found


class Client:
    def __init__(self, base_url: str, key: str) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Token {key}"}, timeout=120
        )

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.http.post(path, json=body)
        envelope = response.json()
        if envelope.get("code") != 0:
            raise RuntimeError(f"{path}: {envelope}")
        return envelope["data"]


def ingest(client: Client, sample: dict[str, Any], user: str) -> dict[int, str]:
    """Add every session; return message id → dia_id."""
    conversation = sample["conversation"]
    speaker_a = conversation["speaker_a"]
    ids: dict[int, str] = {}
    sessions = sorted(
        (int(key.split("_")[1]), key) for key in conversation if re.fullmatch(r"session_\d+", key)
    )
    for number, key in sessions:
        turns = conversation[key]
        if not turns:
            continue
        when = session_time(conversation[f"{key}_date_time"])
        messages = [
            {
                "role": "user" if turn["speaker"] == speaker_a else "assistant",
                "content": turn_text(turn),
                "chat_time": when,
            }
            for turn in turns
        ]
        client.post(
            "/add/message",
            {"user_id": user, "conversation_id": f"session_{number}", "messages": messages},
        )
        stored = client.post(
            "/get/message",
            {"user_id": user, "conversation_id": f"session_{number}", "message_limit_number": 50},
        )["message_detail_list"]
        if len(stored) != len(turns):
            raise RuntimeError(f"{key}: stored {len(stored)} of {len(turns)} turns")
        for message, turn in zip(stored, turns, strict=True):
            ids[message["message_id"]] = turn["dia_id"]
    return ids


def ranked_turns(memories: list[dict[str, Any]], ids: dict[int, str]) -> list[tuple[str, int]]:
    """(dia_id, characters of the memories returned up to it), by first appearance."""
    seen: list[tuple[str, int]] = []
    known: set[str] = set()
    characters = 0
    for memory in memories:
        characters += len(memory["memory_value"])
        for source in memory.get("sources", []):
            dia = ids.get(source["message_id"])
            if dia and dia not in known:
                known.add(dia)
                seen.append((dia, characters))
    return seen


def evaluate(
    client: Client,
    sample: dict[str, Any],
    user: str,
    ids: dict[int, str],
    floors: tuple[Floor, ...] = (None,),
) -> dict[Floor, list[Any]]:
    """Floor → one row per question with evidence, the question asked with that relativity."""
    rows: dict[Floor, list[Any]] = {floor: [] for floor in floors}
    for qa in sample["qa"]:
        evidence = evidence_ids(qa.get("evidence", []))
        if not evidence:
            continue
        for floor in floors:
            started = time.perf_counter()
            found = client.post(
                "/search/memory", search_body(user, qa["question"], max(KS), floor)
            )["memory_detail_list"]
            latency = (time.perf_counter() - started) * 1000
            turns = ranked_turns(found, ids)
            recalls, chars = {}, {}
            for k in KS:
                top = turns[:k]
                recalls[k] = len(evidence & {dia for dia, _ in top}) / len(evidence)
                chars[k] = top[-1][1] if top else 0
            rows[floor].append((qa["category"], recalls, chars, latency, len(found)))
    return rows


Floor = float | None  # a search's relativity; None: the request names none (the service's default)


def floors_of(text: str) -> tuple[Floor, ...]:
    """'default,0,0.3' → (None, 0.0, 0.3): floors in 0..1, or the service's default."""
    floors = tuple(
        None if part.strip() == "default" else float(part)
        for part in text.split(",")
        if part.strip()
    )
    if not floors or any(f is not None and not 0.0 <= f <= 1.0 for f in floors):
        raise argparse.ArgumentTypeError(f"floors in 0..1 or 'default', comma-separated: {text!r}")
    return floors


def floor_label(floor: Floor) -> str:
    return "default" if floor is None else f"{floor:g}"


def search_body(user: str, query: str, limit: int, floor: Floor) -> dict[str, Any]:
    """A search/memory request for facts only; ``relativity`` only when the floor is given."""
    body: dict[str, Any] = {
        "user_id": user,
        "query": query,
        "memory_limit_number": limit,
        "include_preference": False,
    }
    if floor is not None:
        body["relativity"] = floor
    return body


def report(rows: list[Any], header: str) -> str:
    by_category: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        by_category[row[0]].append(row)
    lines = [
        header,
        "",
        "| category | " + " | ".join(f"R@{k}" for k in KS) + " | questions |",
        "|---|" + "---|" * len(KS) + "---|",
    ]

    def line(name: str, group: list[Any]) -> str:
        cells = [f"{100 * statistics.fmean(r[1][k] for r in group):.1f}" for k in KS]
        return f"| {name} | " + " | ".join(cells) + f" | {len(group)} |"

    for category in sorted(by_category):
        lines.append(line(f"category {category}", by_category[category]))
    lines.append(line("**overall**", rows))
    chars = ", ".join(f"k={k}: {statistics.fmean(r[2][k] for r in rows):.0f}" for k in KS)
    latencies = [r[3] for r in rows]
    returned = statistics.fmean(r[4] for r in rows)
    lines += [
        "",
        f"Mean characters returned to fill k turns: {chars}. Mean memories returned: "
        f"{returned:.1f}; questions with none: {sum(1 for r in rows if not r[4])}.",
        f"Search latency over loopback HTTP (limit {max(KS)}): p50 "
        f"{percentile(latencies, 50):.1f} ms, p95 {percentile(latencies, 95):.1f} ms.",
    ]
    return "\n".join(lines)


def own_service(workdir: Path) -> tuple[Any, str]:
    from tests.support.process import ServiceProcess

    service = ServiceProcess(
        workdir,
        MEMOS_DATA_DIR=str(workdir / "data"),
        MEMOS_LIMITS__MAX_RESULT_LIMIT=str(max(KS)),
        MEMOS_API_KEY=f"mk-bench-{uuid.uuid4().hex}",
        **{k: v for k, v in os.environ.items() if k.startswith("MEMOS_")},
    )
    return service.start(), service.env["MEMOS_API_KEY"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument("--base-url")
    parser.add_argument("--api-key")
    parser.add_argument("--label", default="")
    parser.add_argument(
        "--relativity",
        type=floors_of,
        default=(None,),
        help="minimum relevance sent with each search, comma-separated, one table each; "
        "'default': none sent, the service's default floor (the default)",
    )
    args = parser.parse_args()
    samples = json.loads(args.dataset.read_text(encoding="utf-8"))[: args.conversations]

    service = None
    if args.base_url:
        base_url, key = args.base_url, args.api_key
    else:
        service, key = own_service(Path(tempfile.mkdtemp(prefix="memos-locomo-")))
        base_url = service.base_url
    try:
        client = Client(base_url, key)
        rows: dict[Floor, list[Any]] = {floor: [] for floor in args.relativity}
        started = time.perf_counter()
        for sample in samples:
            user = f"locomo-{sample['sample_id']}-{uuid.uuid4().hex[:6]}"
            ids = ingest(client, sample, user)
            for floor, found in evaluate(client, sample, user, ids, args.relativity).items():
                rows[floor] += found
            print(f"  {sample['sample_id']}: {len(ids)} turns", file=sys.stderr)
        elapsed = time.perf_counter() - started
    finally:
        if service is not None:
            service.stop()

    settings = {k: v for k, v in sorted(os.environ.items()) if k.startswith("MEMOS_")}
    for floor, found in rows.items():
        header = (
            f"LoCoMo {args.label} ({len(samples)} conversations, {len(found)} questions with "
            f"evidence; {machine()}; settings {settings or 'default'}; "
            f"relativity {floor_label(floor)}; {elapsed:.0f} s)"
        )
        print(report(found, header) + "\n")


if __name__ == "__main__":
    main()
