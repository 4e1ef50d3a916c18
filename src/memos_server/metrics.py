"""The Prometheus metrics of a process, and the text ``GET /metrics`` answers with.

The metric objects are module-level, in prometheus_client's default registry, so they exist once
per process however many apps it runs (the tests run two): registering them per app would raise
"Duplicated timeseries". Under ``serve --workers N`` every process counts its own requests and
model calls; a scrape reaches one of them.

The job-queue gauges are different: they describe the shared database, not the process, so they
are read from the jobs table when a scrape arrives (see ``render``) rather than kept up to date.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE_LATEST",
    "Backlog",
    "ReindexState",
    "count_read",
    "llm_call",
    "observe_embedding",
    "render",
]

# Searches take a few milliseconds, an add with async_mode=false or a chat can take a minute.
HTTP_SECONDS = Histogram(
    "memos_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response (its _count counts requests).",
    ["method", "route", "status"],
    buckets=(0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)

LLM_SECONDS = Histogram(
    "memos_llm_call_duration_seconds",
    "One LLM call, retries included; outcome error: it failed for good.",
    ["call", "outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120),
)
LLM_FAILURES = Counter(
    "memos_llm_failures_total",
    "Failed LLM attempts by reason, each retry counted (unusable_answer: JSON the service could "
    "not use).",
    ["reason"],
)
LLM_TOKENS = Counter("memos_llm_tokens_total", "Tokens the LLM endpoint reported using.", ["type"])

EMBEDDING_TEXTS = Histogram(
    "memos_embedding_batch_texts",
    "Texts in one call of the embedding model (concurrent requests share a batch).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
EMBEDDING_SECONDS = Histogram(
    "memos_embedding_batch_duration_seconds",
    "One call of the embedding model.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)

DB_READS = Counter(
    "memos_db_reads_total",
    "Sessions of read-only requests (search/memory, get/memory, get/message, the console) by "
    "where they ran: replica, or primary (no replica configured or up, or the user wrote within "
    "database.read_your_writes_s, or the replica busy).",
    ["target"],
)
REPLICA_BUSY = Counter(
    "memos_db_replica_busy_total",
    "Reads sent to the primary because the replica picked had no free connection within "
    "database.pool_timeout_s (counted in memos_db_reads_total as primary reads too).",
)
API_KEY_CHECKS = Counter(
    "memos_api_key_checks_total",
    "API keys checked, by how: kept (known from a lookup in the last database.key_cache_s, no "
    "round trip) or looked_up (a statement on the primary: first use, expired, any key changed, "
    "or the process not listening for key changes).",
    ["how"],
)
DB_CONNECTIONS = Counter(
    "memos_db_connections_opened_total",
    "Connections opened to Postgres by pool (primary, or replica). Rising steadily under steady "
    "load means the pool is smaller than the requests in flight (database.pool_size): each new "
    "one is a Postgres backend started and every statement prepared again on it.",
    ["pool"],
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_SECONDS.labels(method, route, str(status)).observe(seconds)


@contextmanager
def llm_call(call: str) -> Iterator[None]:
    """Time one ``complete`` or ``stream``; a cancelled call (the client left) is not counted."""
    started = time.perf_counter()
    try:
        yield
    except Exception:
        LLM_SECONDS.labels(call, "error").observe(time.perf_counter() - started)
        raise
    LLM_SECONDS.labels(call, "ok").observe(time.perf_counter() - started)


def llm_failed(reason: str) -> None:
    LLM_FAILURES.labels(reason).inc()


def llm_used(prompt_tokens: int, completion_tokens: int) -> None:
    LLM_TOKENS.labels("prompt").inc(prompt_tokens)
    LLM_TOKENS.labels("completion").inc(completion_tokens)


def count_read(target: Literal["primary", "replica"]) -> None:
    DB_READS.labels(target).inc()


def count_replica_busy() -> None:
    REPLICA_BUSY.inc()


def count_key_check(how: Literal["kept", "looked_up"]) -> None:
    API_KEY_CHECKS.labels(how).inc()


def count_connection_opened(pool: Literal["primary", "replica"]) -> None:
    DB_CONNECTIONS.labels(pool).inc()


def observe_embedding(texts: int, seconds: float) -> None:
    EMBEDDING_TEXTS.observe(texts)
    EMBEDDING_SECONDS.observe(seconds)


@dataclass(frozen=True)
class Backlog:
    """Unfinished jobs of one kind and status, and how long the oldest has existed."""

    kind: str
    status: str  # queued (waiting, or waiting to be retried) | running
    jobs: int
    oldest_age_s: float


class _Queue(Collector):
    """The job-queue gauges of one scrape."""

    def __init__(self, backlog: Sequence[Backlog], kinds: Sequence[str]) -> None:
        self.backlog = backlog
        self.kinds = kinds

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "memos_job_queue_depth", "Unfinished jobs in the database.", labels=["kind", "status"]
        )
        age = GaugeMetricFamily(
            "memos_job_queue_oldest_age_seconds",
            "Age of the oldest job still waiting (0: none waits).",
            labels=["kind"],
        )
        found = {(row.kind, row.status): row for row in self.backlog}
        for kind in sorted(set(self.kinds) | {row.kind for row in self.backlog}):
            for status in ("queued", "running"):
                row = found.get((kind, status))
                depth.add_metric([kind, status], row.jobs if row else 0)
            waiting = found.get((kind, "queued"))
            age.add_metric([kind], waiting.oldest_age_s if waiting else 0.0)
        yield depth
        yield age


@dataclass(frozen=True)
class ReindexState:
    """A reindex under way (``memos-server reindex`` or the admin API, in any process): its
    target model, and memories (passages) with that model's vector of all memories (passages)."""

    model: str
    done: int
    total: int
    passages_done: int = 0
    passages_total: int = 0


class _Reindex(Collector):
    def __init__(self, state: ReindexState | None) -> None:
        self.state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        memories = GaugeMetricFamily(
            "memos_reindex_memories",
            "Memories of the reindex under way: done (re-embedded by the new model) and total.",
            labels=["model", "state"],
        )
        running = GaugeMetricFamily(
            "memos_reindex_running", "1 while a reindex to another model is under way."
        )
        passages = GaugeMetricFamily(
            "memos_reindex_passages",
            "Knowledge-base passages of the reindex under way: done and total.",
            labels=["model", "state"],
        )
        running.add_metric([], 1 if self.state else 0)
        if self.state is not None:
            memories.add_metric([self.state.model, "done"], self.state.done)
            memories.add_metric([self.state.model, "total"], self.state.total)
            passages.add_metric([self.state.model, "done"], self.state.passages_done)
            passages.add_metric([self.state.model, "total"], self.state.passages_total)
        yield running
        yield memories
        yield passages


def render(
    backlog: Sequence[Backlog] | None,
    kinds: Sequence[str],
    reindex: ReindexState | Literal[False] | None = False,
) -> bytes:
    """The exposition text: the process's metrics, then the job-queue gauges and the reindex's
    (each absent when the database could not be read, so a scrape never shows stale numbers as
    fresh; ``reindex`` False: unread)."""
    text = generate_latest(REGISTRY)
    shared = CollectorRegistry(auto_describe=False)
    if backlog is not None:
        shared.register(_Queue(backlog, kinds))
    if reindex is not False:
        shared.register(_Reindex(reindex))
    return text + generate_latest(shared)
