"""Chinese retrieval development set through the real API: R@5/R@10 per kind of request.

The set is ``bench/data/zh_dev.json`` (written by the project; its ``about`` says what each kind
means). Each persona is ingested as one user: each conversation one ``add/message`` call, each
message with its role and ``chat_time``, the text as the user typed it (no speaker prefix, unlike
LoCoMo: the role says who spoke, as for a real client). Every query is asked through
``search/memory``; returned memories are mapped back to messages through their sources
(``bench.locomo.ranked_turns``: messages by first appearance), cut at k.

search/memory takes no query time: the service reads time words ("上个月", "去年") against its
own clock. So each user's dates are shifted by whole weeks to sit just before today, by a shift
under which the service's ``period_of`` puts every message of that user in the same periods,
seen from today, as the set's ``asked_at`` does (weekdays, months and years alike); the shift is
printed.

    .venv/bin/python bench/zh_recall.py [--limit-queries N] [--retriever service,bm25]
        [--relativity default,0,0.3] [--unrelated] [--base-url URL --api-key KEY]

Without --base-url it starts its own service (embedded Postgres in a temporary folder, fast mode)
with the MEMOS_* settings of the environment. ``bm25`` is a no-service baseline: Okapi BM25 over
jieba words of single messages, in this process. Prints one markdown table, the service first.

``--relativity`` asks each query once per floor (the request's ``relativity``: memories scoring
under it are dropped), one ``service@floor`` column pair each. ``--unrelated`` also asks
``bench/data/zh_unrelated.json`` (ten requests per persona on topics it never mentioned) at each
floor and prints how many memories come back, where the right answer is none.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import zip_longest
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.locomo import (  # noqa: E402
    Client,
    Floor,
    floor_label,
    floors_of,
    own_service,
    ranked_turns,
    search_body,
)
from bench.search_latency import machine, percentile  # noqa: E402

KS = (5, 10)
MEMORY_LIMIT = 25  # the API's maximum for memory_limit_number
DATASET = ROOT / "bench" / "data" / "zh_dev.json"
UNRELATED = ROOT / "bench" / "data" / "zh_unrelated.json"
KINDS = (
    "single_fact",
    "paraphrase",
    "preference",
    "implicit_preference",
    "temporal",
    "multi_hop",
    "updated_fact",
)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def load(path: Path = DATASET) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def messages_by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """'c03:4' → the message, with its conversation's user under 'user'."""
    return {
        f"{conversation['id']}:{index}": {**message, "user": conversation["user"]}
        for conversation in data["conversations"]
        for index, message in enumerate(conversation["messages"])
    }


def spread(queries: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` queries taking each kind in turn (all of them for 0), in set order."""
    if not limit:
        return queries
    by_kind = [[q for q in queries if q["kind"] == kind] for kind in KINDS]
    turns = [q for row in zip_longest(*by_kind) for q in row if q is not None]
    chosen = {id(q) for q in turns[:limit]}
    return [q for q in queries if id(q) in chosen]


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


# -- dates: the service's clock is today's --------------------------------------------------------


def week_shift(
    asked_at: datetime, times: list[datetime], queries: list[str], now: datetime
) -> tuple[timedelta, bool]:
    """Whole weeks to add to a user's dates so that, seen from ``now``, every message falls in
    the periods of the queries' time words it falls in seen from ``asked_at``; and whether one
    was found (else the nearest shift)."""
    from memos_server.text.time_words import period_of

    wanted = []
    for query in queries:
        period = period_of(query, asked_at)
        if period is not None:
            wanted.append((query, [period.holds(t) for t in times]))
    latest = (now - asked_at).days // 7
    for back in range(0, 104):
        shift = timedelta(weeks=latest - back)
        if all(
            [period_of(query, now).holds(t + shift) for t in times] == holds  # type: ignore[union-attr]
            for query, holds in wanted
        ):
            return shift, True
    return timedelta(weeks=latest), False


def user_shifts(data: dict[str, Any], now: datetime) -> dict[str, tuple[timedelta, bool]]:
    times: dict[str, list[datetime]] = defaultdict(list)
    for conversation in data["conversations"]:
        for message in conversation["messages"]:
            times[conversation["user"]].append(parse_time(message["chat_time"]))
    queries: dict[str, list[str]] = defaultdict(list)
    for query in data["queries"]:
        queries[query["user"]].append(query["query"])
    return {
        user["id"]: week_shift(
            parse_time(user["asked_at"]), times[user["id"]], queries[user["id"]], now
        )
        for user in data["users"]
    }


# -- retrievers: a query → message ids, best first -------------------------------------------------


@dataclass
class ServiceRetriever:
    client: Client
    users: dict[str, str]  # dataset user → the service's user_id
    ids: dict[int, str]  # the service's message_id → dataset message id
    latencies: list[float]

    def search(self, query: dict[str, Any], floor: Floor = None) -> list[dict[str, Any]]:
        started = time.perf_counter()
        body = search_body(self.users[query["user"]], query["query"], MEMORY_LIMIT, floor)
        found: list[dict[str, Any]] = self.client.post("/search/memory", body)["memory_detail_list"]
        self.latencies.append((time.perf_counter() - started) * 1000)
        return found

    def __call__(self, query: dict[str, Any], floor: Floor = None) -> list[str]:
        return [message for message, _ in ranked_turns(self.search(query, floor), self.ids)]


def ingest(client: Client, data: dict[str, Any], shifts: dict[str, timedelta]) -> ServiceRetriever:
    """Every conversation as one add, each persona a fresh user; a retriever over them."""
    run = uuid.uuid4().hex[:6]
    users = {user["id"]: f"zh-{user['id']}-{run}" for user in data["users"]}
    ids: dict[int, str] = {}
    for conversation in data["conversations"]:
        user, shift = users[conversation["user"]], shifts[conversation["user"]]
        messages = [
            {
                "role": message["role"],
                "content": message["content"],
                "chat_time": (parse_time(message["chat_time"]) + shift).strftime(TIME_FORMAT),
            }
            for message in conversation["messages"]
        ]
        body = {"user_id": user, "conversation_id": conversation["id"]}
        client.post("/add/message", {**body, "messages": messages})
        stored = client.post("/get/message", {**body, "message_limit_number": 50})[
            "message_detail_list"
        ]
        if len(stored) != len(messages):
            raise RuntimeError(f"{conversation['id']}: stored {len(stored)} of {len(messages)}")
        for index, message in enumerate(stored):
            ids[message["message_id"]] = f"{conversation['id']}:{index}"
    return ServiceRetriever(client, users, ids, [])


_WORD = re.compile(r"\w")


def words(text: str) -> list[str]:
    import jieba

    return [w for w in jieba.lcut(text.lower()) if _WORD.search(w)]


class Bm25Retriever:
    """Okapi BM25 (k1 1.2, b 0.75) over jieba words of each of the user's messages."""

    def __init__(self, data: dict[str, Any], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.docs: dict[str, list[tuple[str, Counter[str]]]] = defaultdict(list)
        for message_id, message in messages_by_id(data).items():
            self.docs[message["user"]].append((message_id, Counter(words(message["content"]))))

    def __call__(self, query: dict[str, Any]) -> list[str]:
        docs = self.docs[query["user"]]
        mean = statistics.fmean(sum(c.values()) for _, c in docs)
        terms = set(words(query["query"]))
        df = {t: sum(1 for _, c in docs if t in c) for t in terms}
        idf = {t: math.log(1 + (len(docs) - n + 0.5) / (n + 0.5)) for t, n in df.items()}
        scored = []
        for message_id, counts in docs:
            norm = self.k1 * (1 - self.b + self.b * sum(counts.values()) / mean)
            score = sum(
                idf[t] * counts[t] * (self.k1 + 1) / (counts[t] + norm)
                for t in terms
                if t in counts
            )
            if score > 0:
                scored.append((score, message_id))
        scored.sort(key=lambda row: (-row[0], row[1]))
        return [message_id for _, message_id in scored]


def unrelated_table(
    retriever: ServiceRetriever, queries: list[dict[str, Any]], floors: tuple[Floor, ...]
) -> str:
    """What requests on topics a persona never mentioned return at each floor (ideally nothing)."""
    lines = [
        f"Unrelated requests ({len(queries)}, {UNRELATED.name}; limit {MEMORY_LIMIT}):",
        "",
        "| relativity floor | mean memories returned | requests returning any | "
        "mean top relativity of those |",
        "|---:|---:|---:|---:|",
    ]
    found: list[list[dict[str, Any]]] = []
    for floor in floors:
        found = [retriever.search(query, floor) for query in queries]
        tops = [max(m["relativity"] for m in memories) for memories in found if memories]
        top = f"{statistics.fmean(tops):.3f}" if tops else "-"
        lines.append(
            f"| {floor_label(floor)} | {statistics.fmean(len(m) for m in found):.1f} | "
            f"{len(tops)} / {len(found)} | {top} |"
        )
    lines += ["", f"Returned at floor {floor_label(floors[-1])} (the best memory of each request):"]
    for query, memories in zip(queries, found, strict=True):
        if memories:
            best = max(memories, key=lambda m: m["relativity"])
            text = best["memory_value"].replace("\n", " ")[:60]
            lines.append(f"- {query['user']} {query['query']} → {best['relativity']:.3f} {text}")
    return "\n".join(lines)


# -- scoring ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    kind: str
    recall: dict[int, float]
    newest_above_stale: bool | None  # updated facts only


def score(query: dict[str, Any], ranked: list[str]) -> Row:
    evidence = set(query["evidence"])
    recall = {k: len(evidence & set(ranked[:k])) / len(evidence) for k in KS}
    above = None
    if query.get("stale"):
        position = {message: i for i, message in enumerate(ranked)}
        newest = min((position[m] for m in evidence if m in position), default=None)
        stale = min((position[m] for m in query["stale"] if m in position), default=math.inf)
        above = newest is not None and newest < stale
    return Row(query["kind"], recall, above)


def table(results: dict[str, list[Row]], header: str) -> str:
    names = list(results)
    lines = [
        header,
        "",
        "| kind | queries | " + " | ".join(f"{name} R@{k}" for name in names for k in KS) + " |",
        "|---|---:|" + "---:|" * (len(names) * len(KS)),
    ]

    def line(label: str, kind: str | None) -> str:
        groups = [[r for r in results[name] if kind in (None, r.kind)] for name in names]
        cells = [
            f"{100 * statistics.fmean(row.recall[k] for row in group):.1f}" if group else "-"
            for group in groups
            for k in KS
        ]
        return f"| {label} | {len(groups[0])} | " + " | ".join(cells) + " |"

    kinds = [kind for kind in KINDS if any(row.kind == kind for row in results[names[0]])]
    lines += [line(kind, kind) for kind in kinds]
    lines.append(line("**overall**", None))
    lines.append("")
    for name in names:
        updated = [r.newest_above_stale for r in results[name] if r.kind == "updated_fact"]
        above = sum(1 for flag in updated if flag)
        lines.append(f"updated facts: newest above stale {above} / {len(updated)} ({name})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--limit-queries", type=int, default=0, help="N queries, each kind in turn")
    parser.add_argument(
        "--retriever",
        default="service,bm25",
        help="comma-separated, in the table's order: service (the API), bm25 (no service)",
    )
    parser.add_argument("--base-url")
    parser.add_argument("--api-key")
    parser.add_argument("--label", default="")
    parser.add_argument(
        "--relativity",
        type=floors_of,
        default=(None,),
        help="minimum relevance sent with each search; comma-separated floors, one column each",
    )
    parser.add_argument(
        "--unrelated",
        action="store_true",
        help=f"also count what the requests of {UNRELATED.name} return at each floor",
    )
    args = parser.parse_args()
    retrievers = [name.strip() for name in args.retriever.split(",") if name.strip()]
    unknown = set(retrievers) - {"service", "bm25"}
    if unknown or not retrievers:
        parser.error(f"unknown retriever {sorted(unknown)}; choose from service, bm25")
    data = load(args.dataset)
    queries = spread(data["queries"], args.limit_queries)

    started = time.perf_counter()
    results: dict[str, list[Row]] = {}
    notes: list[str] = []
    for name in retrievers:
        if name == "bm25":
            bm25 = Bm25Retriever(data)
            results[name] = [score(query, bm25(query)) for query in queries]
            continue
        shifts = user_shifts(data, datetime.now(UTC))
        for user, (_, exact) in shifts.items():
            if not exact:
                print(f"  {user}: no week shift keeps every time word's period", file=sys.stderr)
        weeks = sorted({shift.days // 7 for shift, _ in shifts.values()})
        service = None
        if args.base_url:
            base_url, key = args.base_url, args.api_key or ""
        else:
            service, key = own_service(Path(tempfile.mkdtemp(prefix="memos-zh-")))
            base_url = service.base_url
        try:
            retriever = ingest(Client(base_url, key), data, {u: s for u, (s, _) in shifts.items()})
            print(f"  ingested {len(retriever.ids)} messages", file=sys.stderr)
            for floor in args.relativity:
                column = name if args.relativity == (None,) else f"{name}@{floor_label(floor)}"
                results[column] = [score(query, retriever(query, floor)) for query in queries]
            if args.unrelated:
                unrelated = load(UNRELATED)["queries"]
                notes.append(unrelated_table(retriever, unrelated, args.relativity))
        finally:
            if service is not None:
                service.stop()
        latencies = retriever.latencies
        notes.append(
            f"Service: dates shifted by {', '.join(map(str, weeks))} weeks (per user); "
            f"search/memory limit {MEMORY_LIMIT}, latency over loopback HTTP p50 "
            f"{percentile(latencies, 50):.1f} ms, p95 {percentile(latencies, 95):.1f} ms."
        )
    elapsed = time.perf_counter() - started

    settings = {k: v for k, v in sorted(os.environ.items()) if k.startswith("MEMOS_")}
    header = (
        f"zh_dev {args.label} ({len(data['users'])} users, {len(data['conversations'])} "
        f"conversations, {sum(len(c['messages']) for c in data['conversations'])} messages, "
        f"{len(queries)} queries; {machine()}; settings {settings or 'default'}; {elapsed:.0f} s)"
    )
    print(table(results, header))
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
