"""The Chinese retrieval development set stays well-formed and honest; its benchmark runs.

Honest: requests say little of their evidence's words, so the set measures recall by meaning.
Overlap is measured on character bigrams (letters, digits and CJK; punctuation dropped):
- Jaccard of a query and its closest evidence message: mean ≤ 0.06, none above 0.2;
- containment (share of the query's bigrams found anywhere in its evidence): mean ≤ 0.12.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from bench.zh_recall import DATASET, KINDS, load, messages_by_id, parse_time
from memos_server.text.time_words import period_of
from tests.support.paths import ROOT

MINIMUM = {
    "single_fact": 15,
    "paraphrase": 15,
    "preference": 12,
    "implicit_preference": 12,
    "temporal": 12,
    "multi_hop": 10,
    "updated_fact": 14,
}
MEAN_JACCARD = 0.06
MAX_JACCARD = 0.2
MEAN_CONTAINMENT = 0.12


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return load()


def bigrams(text: str) -> set[str]:
    text = re.sub(r"[\W_]", "", text.lower())
    return {text[i : i + 2] for i in range(len(text) - 1)}


def test_the_file_is_deterministic_json_with_its_header() -> None:
    text = DATASET.read_text(encoding="utf-8")
    data = json.loads(text)
    assert set(data) == {"about", "users", "conversations", "queries"}
    about = data["about"]
    assert "memos-server" in about["what"]
    assert "Licence: same as the repository" in about["what"]
    assert set(about["kinds"]) == set(KINDS)
    assert text.endswith("}\n")
    assert "\r" not in text


def test_sizes_and_kinds(data: dict[str, Any]) -> None:
    assert len(data["users"]) >= 5
    assert len(data["conversations"]) >= 26
    assert sum(len(c["messages"]) for c in data["conversations"]) >= 320
    assert len(data["queries"]) >= 90
    counts = Counter(q["kind"] for q in data["queries"])
    assert set(counts) == set(KINDS)
    for kind, least in MINIMUM.items():
        assert counts[kind] >= least, (kind, counts[kind])


def test_ids_are_unique_and_resolve_to_the_askers_messages(data: dict[str, Any]) -> None:
    users = [u["id"] for u in data["users"]]
    assert len(users) == len(set(users))
    conversations = [c["id"] for c in data["conversations"]]
    assert len(conversations) == len(set(conversations))
    assert all(re.fullmatch(r"c\d{2}", c) for c in conversations)
    queries = [q["id"] for q in data["queries"]]
    assert len(queries) == len(set(queries))
    messages = messages_by_id(data)
    for query in data["queries"]:
        assert query["user"] in users
        assert query["evidence"], query["id"]
        assert len(set(query["evidence"])) == len(query["evidence"])
        for message_id in query["evidence"] + query.get("stale", []):
            assert message_id in messages, (query["id"], message_id)
            assert messages[message_id]["user"] == query["user"], (query["id"], message_id)
            assert messages[message_id]["role"] == "user", (query["id"], message_id)


def test_conversations_are_dated_sessions(data: dict[str, Any]) -> None:
    for user in data["users"]:
        mine = [c for c in data["conversations"] if c["user"] == user["id"]]
        assert len(mine) >= 5, user["id"]
        starts = [parse_time(c["messages"][0]["chat_time"]) for c in mine]
        assert starts == sorted(starts), user["id"]
        # Spread over months, and all before the user asks.
        assert (starts[-1] - starts[0]).days >= 180, user["id"]
        asked_at = parse_time(user["asked_at"])
        for conversation in mine:
            times = [parse_time(m["chat_time"]) for m in conversation["messages"]]
            assert times == sorted(times), conversation["id"]
            assert times[-1] < asked_at, conversation["id"]
            roles = {m["role"] for m in conversation["messages"]}
            assert roles == {"user", "assistant"}, conversation["id"]
            assert all(m["content"].strip() for m in conversation["messages"])


def test_kinds_carry_their_fields(data: dict[str, Any]) -> None:
    asked_at = {u["id"]: u["asked_at"] for u in data["users"]}
    messages = messages_by_id(data)
    for query in data["queries"]:
        kind = query["kind"]
        assert set(query) <= {"id", "user", "kind", "query", "evidence", "query_time", "stale"}
        # search/memory reads time words against the service's clock: one moment per user.
        assert ("query_time" in query) == (kind == "temporal"), query["id"]
        if kind == "temporal":
            assert query["query_time"] == asked_at[query["user"]]
            datetime.strptime(query["query_time"], "%Y-%m-%d %H:%M:%S")
        assert ("stale" in query) == (kind == "updated_fact"), query["id"]
        if kind == "updated_fact":
            assert query["stale"]
            assert not set(query["stale"]) & set(query["evidence"])
            newest = min(parse_time(messages[m]["chat_time"]) for m in query["evidence"])
            stale = max(parse_time(messages[m]["chat_time"]) for m in query["stale"])
            assert stale < newest, query["id"]
        if kind == "multi_hop":
            assert len(query["evidence"]) >= 2, query["id"]


def test_temporal_evidence_lies_in_the_period_its_time_words_name(data: dict[str, Any]) -> None:
    """As the service reads them (``period_of``), from the query's own time."""
    messages = messages_by_id(data)
    for query in data["queries"]:
        if query["kind"] != "temporal":
            continue
        period = period_of(query["query"], parse_time(query["query_time"]))
        assert period is not None, query["id"]
        for message_id in query["evidence"]:
            assert period.holds(parse_time(messages[message_id]["chat_time"])), query["id"]


def test_requests_share_few_words_with_their_evidence(data: dict[str, Any]) -> None:
    messages = messages_by_id(data)
    jaccards, containments = [], []
    for query in data["queries"]:
        asked = bigrams(query["query"])
        evidence = [bigrams(messages[m]["content"]) for m in query["evidence"]]
        jaccards.append(max(len(asked & e) / len(asked | e) for e in evidence))
        containments.append(len(asked & set().union(*evidence)) / len(asked))
    assert statistics.fmean(jaccards) <= MEAN_JACCARD
    assert max(jaccards) <= MAX_JACCARD
    assert statistics.fmean(containments) <= MEAN_CONTAINMENT


def test_queries_are_distinct(data: dict[str, Any]) -> None:
    texts = [q["query"] for q in data["queries"]]
    assert len(texts) == len(set(texts))


OVERALL = re.compile(r"\| \*\*overall\*\* \| (\d+)" + r" \| ([\d.]+)" * 4 + r" \|")


@pytest.mark.slow
def test_the_benchmark_runs_a_few_queries() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "zh_recall.py"), "--limit-queries", "14"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    overall = OVERALL.search(completed.stdout)
    assert overall, completed.stdout
    queries = int(overall.group(1))
    service5, service10, bm25_5, bm25_10 = (float(x) for x in overall.groups()[1:])
    assert queries == 14
    assert 0 <= service5 <= service10 <= 100
    assert 0 <= bm25_5 <= bm25_10 <= 100
    # Every kind is asked (two of each), and the updated facts are scored for both.
    for kind in KINDS:
        assert f"| {kind} | 2 |" in completed.stdout
    assert re.search(r"newest above stale \d / 2 \(service\)", completed.stdout)
    assert re.search(r"newest above stale \d / 2 \(bm25\)", completed.stdout)
