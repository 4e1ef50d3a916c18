"""Load benchmark: a big corpus through the real write path, then search and add under load.

    .venv/bin/python bench/load.py                      # 500 users x 2,000 messages (1,000,000)
    .venv/bin/python bench/load.py --users 20 --memories 200 --duration 5      # a quick look

Against a service it starts itself (``memos-server serve`` on an embedded Postgres in
``--data-dir``, kept between runs so the corpus is loaded once), or against any running
instance with ``--base-url`` and ``--api-key`` (plus ``--pid`` to report its memory).

Phases (``--phases``, default all):

- ``load``: every user's history through add/message (``--memories`` messages per user),
  ``--batch`` messages per call. Fast mode's windows make the memories: the service this script
  starts keeps each window to one exchange (``MEMOS_FAST__WINDOW_TURNS=1``, ``_ZH=1``), so a
  user's 2,000 messages make about 2,000 memories, a few less where one exchange holds two
  messages (another instance's windows decide for themselves). The report counts the memories
  stored (with the service started here, or ``--database-url``). Resumable: progress is kept in
  ``bench-state.json`` and every call carries an Idempotency-Key.
- ``search``: C clients (``--levels``, default 1, 8, 32, 128) each sending search/memory for a
  random loaded user and a question about their persona, back to back, for ``--duration``
  seconds after a short warm-up; throughput, p50/p95/p99 latency and errors per level. Before
  the first level, one unmeasured search for each user (``--no-warm`` skips it): the levels
  then read rows Postgres has read before, as the floor does.
- ``add``: the same with add/message (fast mode), a 4-message conversation per call, to new
  users; messages per second.

Beside each level, the floor (``bench/floor.py``), measured in the same run on the same data
(``--floor-samples``; the service this script starts, or ``--database-url``): the CPU of the
query's embedding in this process plus the search channels' own SQL sent straight to Postgres
with the rows warm; for an add, the windows' embedding plus the memories' INSERT. It is timed
before the first level and again after each (the machine's speed moves by half within minutes),
and each level reports its service + Postgres CPU per request as a multiple of the mean of the
floor timed just before and just after it.

``--replica`` (with the service started here): after the load phase, a streaming replica of its
embedded Postgres is made (``pg_basebackup -R``, on loopback) and the service restarted to read
from it (``MEMOS_DATABASE__READ_URLS``, docs/scaling.md); the report adds where reads ran.

``--mem0``: after the service's levels, the same corpus and the same queries and conversations
through mem0 OSS 2.2.1 in-process (``bench/mem0_line.py``: its pgvector store on the same Postgres,
the service's embedding model, ``infer=False``, no LLM), the same levels; the report sets its line
beside the service's. Off by default: mem0 loads the corpus one message at a time (50-70
memories/s on 2 cores), once per data dir; ``--mem0-load copy`` writes the same rows through its
vector store's insert with the service's vectors instead (a million in minutes, not five hours).

The clients speak HTTP/1.1 on raw asyncio streams, keep-alive, in this one process, so the load
generator costs little of the CPU it shares with the service. The service's peak RSS (with any
child processes) is sampled throughout. The report goes to ``--markdown`` (a section of
BENCHMARKS.md, replaced on each run) and ``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import floor as floor_bench  # noqa: E402
from bench.corpus import messages, query  # noqa: E402
from bench.search_latency import machine, percentile  # noqa: E402

SECTION_START = "<!-- load-benchmark:start -->"
SECTION_END = "<!-- load-benchmark:end -->"
WARMUP_S = 3.0


# ------------------------------------------------------------------------------------ HTTP


class Connection:
    """One keep-alive HTTP/1.1 connection; plain http only (this is for loopback)."""

    def __init__(self, base_url: str, api_key: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http":
            raise SystemExit("the load benchmark speaks plain http (run it next to the service)")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.head = f"Host: {self.host}:{self.port}\r\nAuthorization: Token {api_key}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: Any, headers: str = "") -> tuple[int, Any]:
        body = json.dumps(payload, ensure_ascii=False).encode()
        request = (
            f"POST {self.prefix}{path} HTTP/1.1\r\n{self.head}{headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            self.writer.write(request)
            await self.writer.drain()
            status = int((await self.reader.readline()).split()[1])
            length, close = 0, False
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and value.strip().lower() == "close":
                    close = True
            data = await self.reader.readexactly(length)
            if close:
                await self.close()
            return status, json.loads(data) if data else None
        except (OSError, IndexError, ValueError, asyncio.IncompleteReadError):
            await self.close()
            raise

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


@dataclass(frozen=True)
class Call:
    """One request: ``headers`` are extra header lines, each ending in CRLF."""

    path: str
    body: Any
    headers: str = ""


@dataclass(frozen=True)
class Answer:
    """What one call got: ``status`` 0 when no HTTP answer came (refused, cut, timed out)."""

    call: Call
    client: int
    sent: float  # time.perf_counter() when it was sent
    seconds: float
    status: int
    body: Any  # the JSON answer, or the error that stopped it

    @property
    def ok(self) -> bool:
        return self.status == 200 and isinstance(self.body, dict) and self.body.get("code") == 0

    @property
    def problem(self) -> str:
        return "" if self.ok else f"{self.status} {str(self.body)[:200]}"


MakeCall = Callable[[random.Random, int, int], Call]  # (rng, client number, sequence) -> call


async def run_clients(
    base_url: str,
    api_key: str,
    clients: int,
    make_call: MakeCall,
    until: Callable[[], bool],
    record: Callable[[Answer], None],
    *,
    seed: str = "",
    timeout_s: float | None = None,
    retry_after_s: float | None = None,
) -> None:
    """``clients`` keep-alive connections, each sending ``make_call``'s requests back to back
    until ``until()``; every answer, or the failure to get one within ``timeout_s``, goes to
    ``record``. Client ``n`` draws from ``random.Random(f"{seed}:{n}")``.

    With ``retry_after_s``, a client that gets no success sends the same call again after that
    pause, as a careful client does (safe for adds that carry an Idempotency-Key)."""

    async def client(number: int) -> None:
        connection = Connection(base_url, api_key)
        rng = random.Random(f"{seed}:{number}")
        sequence = 0
        again: Call | None = None
        while not until():
            if again is None:
                call = make_call(rng, number, sequence)
                sequence += 1
            else:
                call = again
            sent = time.perf_counter()
            try:
                status, body = await asyncio.wait_for(
                    connection.post(call.path, call.body, call.headers), timeout_s
                )
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                await connection.close()  # a timed-out answer may still arrive: start afresh
                status, body = 0, f"{type(exc).__name__}: {exc}"
            answer = Answer(call, number, sent, time.perf_counter() - sent, status, body)
            record(answer)
            again = None
            if retry_after_s is not None and not answer.ok:
                again = call
                await asyncio.sleep(retry_after_s)
        await connection.close()

    await asyncio.gather(*(client(n) for n in range(clients)))


# ----------------------------------------------------------------------------- memory use


class RssSampler:
    """Peak resident memory of a process and its children, sampled every 0.2 s."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        if self.pid:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, tree_rss(self.pid or 0))

    @property
    def peak_mb(self) -> float | None:
        return round(self.peak / 2**20, 1) if self.pid else None


def _used(stat: str) -> float:
    """utime + stime, plus cutime + cstime: the CPU of children it has reaped, so a backend (or
    worker) that exits during a level still counts, through its parent."""
    fields = stat.rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and its descendants (0 if it is gone)."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += _used(Path(f"/proc/{current}/stat").read_text())
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def stored_memories(database_url: str | None, data_dir: Path) -> dict[str, Any]:
    """The memories the corpus's users hold, in all and the fewest and most of one user: in
    ``database_url``, else in the embedded Postgres of ``data_dir`` (joined, as the floor does)."""
    if database_url:
        return asyncio.run(_stored_memories(database_url))
    from memos_server.storage.embedded import EmbeddedPostgres

    embedded = EmbeddedPostgres(data_dir)
    try:
        return asyncio.run(_stored_memories(embedded.start()))
    finally:
        embedded.stop()


async def _stored_memories(url: str) -> dict[str, Any]:
    import asyncpg

    connection = await asyncpg.connect(floor_bench.plain_dsn(url))
    try:
        row = await connection.fetchrow(
            "SELECT sum(n) AS memories, min(n) AS fewest, max(n) AS most FROM ("
            "SELECT count(*) AS n FROM memories WHERE user_id LIKE 'bench-u%' "
            "AND status = 'activated' GROUP BY user_id) AS per_user"
        )
    finally:
        await connection.close()
    return {
        "memories": int(row["memories"] or 0),
        "memories_per_user": [row["fewest"], row["most"]],
    }


def per_user(fewest_most: Sequence[int]) -> str:
    """The fewest and most memories of one user: "2,000" when they are equal, else "1,000-2,000"."""
    fewest, most = fewest_most
    return f"{fewest:,}" if fewest == most else f"{fewest:,}-{most:,}"


def postmaster_pid(data_dir: Path | None) -> int | None:
    """The embedded Postgres' postmaster in ``data_dir`` (the service this script starts)."""
    try:
        return int((data_dir / "postgres" / "postmaster.pid").read_text().split("\n", 1)[0])  # type: ignore[operator]
    except (OSError, TypeError, ValueError):
        return None


def cpu_seconds(
    service_pid: int | None, postmaster: int | None = None, *, also: Sequence[int] = ()
) -> dict[str, float]:
    """CPU seconds used so far by the service tree, by Postgres, and by this process.

    Postgres is the ``postmaster`` tree when it is known (the embedded server of the service
    started here: other Postgres servers on a shared machine stay out) and the trees of ``also``
    (the streaming replica the service reads from), else every process named postgres on this
    machine."""
    service = tree_cpu(service_pid) if service_pid else 0.0
    postgres = 0.0
    if postmaster:
        postgres = tree_cpu(postmaster) + sum(tree_cpu(pid) for pid in also)
    else:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if stat.split("(", 1)[1].startswith("postgres)"):
                    postgres += _used(stat)
    mine = os.times()
    return {"service": service, "postgres": postgres, "load_generator": mine.user + mine.system}


def tree_rss(pid: int) -> int:
    """Bytes resident in ``pid`` and its descendants (0 if it is gone)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) * 1024  # type: ignore[union-attr]
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                todo += [int(c) for c in children]
        except (OSError, AttributeError, ValueError):
            continue
    return total


# -------------------------------------------------------------------------------- progress


class Progress:
    def __init__(self, total: int, what: str, done: int = 0) -> None:
        self.total, self.what, self.done = total, what, done
        self.start_done = done
        self.started = time.perf_counter()
        self.shown = 0.0

    def advance(self, amount: int) -> None:
        self.done += amount
        now = time.perf_counter()
        if now - self.shown >= 0.5 or self.done >= self.total:
            self.shown = now
            rate = (self.done - self.start_done) / max(now - self.started, 1e-9)
            left = (self.total - self.done) / rate if rate else 0
            filled = int(30 * self.done / max(self.total, 1))
            print(
                f"\r  [{'#' * filled}{'.' * (30 - filled)}] {self.done:,}/{self.total:,} "
                f"{self.what} {rate:,.0f}/s, {left / 60:.1f} min left ",
                end="",
                file=sys.stderr,
                flush=True,
            )
            if self.done >= self.total:
                print(file=sys.stderr)


# ----------------------------------------------------------------------------------- phases


@dataclass
class Level:
    clients: int
    requests: int
    errors: int
    seconds: float
    throughput: float  # requests/s
    p50_ms: float
    p95_ms: float
    p99_ms: float
    messages_per_s: float | None = None
    error_samples: list[str] = field(default_factory=list)
    # CPU time per request: the service (with its threads and child processes), Postgres (every
    # process named postgres on this machine) and this load generator.
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)
    cpu_busy: float | None = None  # share of all cores busy while measuring
    # (service + Postgres) CPU per request / the floor's (bench/floor.py), when it was measured:
    # the mean of the floor timed just before the level and just after it (``floor_ms``).
    floor_ms: float | None = None
    floor_ratio: float | None = None

    @classmethod
    def measured(
        cls,
        clients: int,
        latencies: list[float],
        errors: list[str],
        seconds: float,
        cpu_used: dict[str, float],
        messages_per_call: int | None = None,
    ) -> Level:
        """A level from what its clients saw and the CPU seconds each part used."""
        count = len(latencies)

        def at(p: float) -> float:
            return round(percentile(latencies, p), 1) if latencies else 0.0

        return cls(
            clients=clients,
            requests=count,
            errors=len(errors),
            seconds=round(seconds, 1),
            throughput=round(count / seconds, 1),
            p50_ms=at(50),
            p95_ms=at(95),
            p99_ms=at(99),
            messages_per_s=(
                round(count * messages_per_call / seconds, 1) if messages_per_call else None
            ),
            error_samples=sorted(set(errors))[:3],
            cpu_ms_per_request={k: round(v * 1000 / max(count, 1), 2) for k, v in cpu_used.items()},
            cpu_busy=round(sum(cpu_used.values()) / (seconds * (os.cpu_count() or 1)), 2),
        )


@dataclass
class State:
    """What is loaded, kept beside the data so a later run measures the same corpus."""

    api_key: str
    seed: int
    users_loaded: int = 0
    memories_per_user: int = 0
    load_seconds: float = 0.0
    load_memories: int = 0

    @classmethod
    def read(cls, path: Path) -> State | None:
        return cls(**json.loads(path.read_text())) if path.exists() else None

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))


def user_id(index: int) -> str:
    return f"bench-u{index:05d}"


async def load(args: argparse.Namespace, state: State, state_path: Path) -> dict[str, Any]:
    """Every user's history through add/message; resumes after the last finished user."""
    if state.users_loaded and state.memories_per_user != args.memories:
        raise SystemExit(
            f"{state_path} holds {state.memories_per_user} memories per user; "
            "use another --data-dir (or --state) for another size"
        )
    state.memories_per_user = args.memories
    total = args.users * args.memories
    progress = Progress(total, "messages", state.users_loaded * args.memories)
    calls = [
        (u, start)
        for u in range(state.users_loaded, args.users)
        for start in range(0, args.memories, args.batch)
    ]
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for call in calls:
        queue.put_nowait(call)
    pending: dict[int, int] = {}  # user -> calls still to finish
    for u, _ in calls:
        pending[u] = pending.get(u, 0) + 1
    finished: set[int] = set()
    started = time.perf_counter()
    loaded_before = state.users_loaded * args.memories

    async def client() -> None:
        connection = Connection(args.base_url, state.api_key)
        while not queue.empty():
            u, start = queue.get_nowait()
            count = min(args.batch, args.memories - start)
            body = {
                "user_id": user_id(u),
                "conversation_id": f"history-{start // args.batch:04d}",
                "messages": messages(state.seed, u, start, count),
            }
            key = f"Idempotency-Key: bench-load-{state.seed}-{u}-{start}\r\n"
            for attempt in range(5):
                try:
                    status, answer = await connection.post("/add/message", body, key)
                except OSError as exc:
                    status, answer = 0, str(exc)
                if status == 200 and answer["code"] == 0:
                    break
                if attempt == 4:
                    raise SystemExit(f"add/message failed: {status} {answer}")
                await asyncio.sleep(1 + attempt)
            progress.advance(count)
            pending[u] -= 1
            if not pending[u]:
                finished.add(u)
                while state.users_loaded in finished:
                    state.users_loaded += 1
                state.write(state_path)
        await connection.close()

    await asyncio.gather(*(client() for _ in range(args.load_clients)))
    elapsed = time.perf_counter() - started
    loaded = state.users_loaded * args.memories - loaded_before
    if loaded:
        state.load_seconds += elapsed
        state.load_memories += loaded
    state.write(state_path)
    return {
        "messages": loaded,
        "seconds": round(elapsed, 1),
        "messages_per_s": round(loaded / elapsed, 1) if loaded else None,
        "total_messages": state.users_loaded * args.memories,
        "all_runs_messages_per_s": (
            round(state.load_memories / state.load_seconds, 1) if state.load_seconds else None
        ),
    }


async def drive(
    args: argparse.Namespace, clients: int, make_call: MakeCall, messages_per_call: int = 0
) -> Level:
    """``clients`` connections calling back to back: WARMUP_S unmeasured, then --duration."""
    latencies: list[float] = []
    errors: list[str] = []
    begin = time.perf_counter()
    measure_from = begin + WARMUP_S
    stop_at = measure_from + args.duration

    def record(answer: Answer) -> None:
        if answer.sent >= measure_from:
            latencies.append(answer.seconds * 1000)
            if answer.problem:
                errors.append(answer.problem)

    async def account() -> dict[str, float]:
        await asyncio.sleep(WARMUP_S)
        return cpu_seconds(args.pid, args.postmaster, also=args.replica_postmasters)

    cpu_before, _ = await asyncio.gather(
        account(),
        run_clients(
            args.base_url,
            args.api_key,
            clients,
            make_call,
            lambda: time.perf_counter() >= stop_at,
            record,
            seed=f"{args.seed}:{clients}",
        ),
    )
    cpu_after = cpu_seconds(args.pid, args.postmaster, also=args.replica_postmasters)
    seconds = time.perf_counter() - measure_from
    cpu_used = {k: cpu_after[k] - cpu_before[k] for k in cpu_after}
    return Level.measured(clients, latencies, errors, seconds, cpu_used, messages_per_call)


async def warm(args: argparse.Namespace, users: int, clients: int = 8) -> dict[str, Any]:
    """One search per loaded user, unmeasured, before the search levels: every user's rows read
    once, as the floor reads its samples' rows before timing them. Without it the first level
    paid for reading a cold corpus into Postgres's buffers (a 1,000,000-memory corpus is 2 GB,
    and a level of 20 s reaches each user about twice)."""
    sent = [0]
    failed: list[str] = []

    def call(rng: random.Random, _number: int, _sequence: int) -> Call:
        u = sent[0]
        sent[0] += 1
        return Call("/search/memory", {"user_id": user_id(u), "query": query(rng, args.seed, u)})

    def record(answer: Answer) -> None:
        if answer.problem:
            failed.append(answer.problem)

    started = time.perf_counter()
    await run_clients(
        args.base_url,
        args.api_key,
        min(clients, users),
        call,
        lambda: sent[0] >= users,
        record,
        seed=f"{args.seed}:warm",
    )
    return {
        "searches": sent[0],
        "seconds": round(time.perf_counter() - started, 1),
        "errors": len(failed),
    }


def search_call(args: argparse.Namespace, users: int) -> MakeCall:
    def call(rng: random.Random, _number: int, _sequence: int) -> Call:
        u = rng.randrange(users)
        body = {"user_id": user_id(u), "query": query(rng, args.seed, u)}
        return Call("/search/memory", body)

    return call


def add_call(seed: int, clients: int, run: str, *, keyed: bool = False) -> MakeCall:
    """A new 4-message conversation per call: client ``n``'s user, conversation ``c<sequence>``
    (so user and conversation name each call), with an Idempotency-Key of the same name when
    ``keyed``."""

    def call(_rng: random.Random, number: int, sequence: int) -> Call:
        body = {
            "user_id": f"bench-add-{run}-{clients}-{number}",
            "conversation_id": f"c{sequence}",
            "messages": messages(seed + sequence, 10_000 + number, 0, 4),
        }
        key = f"Idempotency-Key: {body['user_id']}-{body['conversation_id']}\r\n" if keyed else ""
        return Call("/add/message", body, key)

    return call


def ratio(level: Level, floor_ms: float | None) -> float | None:
    """The level's service + Postgres CPU per request as a multiple of the floor's."""
    if not floor_ms:
        return None
    cpu = level.cpu_ms_per_request
    return round((cpu["service"] + cpu["postgres"]) / floor_ms, 2)


def floor_summary(timings: list[dict[str, Any]]) -> dict[str, Any]:
    """A phase's floor over every time it was timed in the run: each part's mean, and the
    totals' range (the machine's speed moves within minutes)."""
    mean = {
        key: round(sum(t[key] for t in timings) / len(timings), 2)
        for key in ("embedding_ms", "driver_ms", "postgres_ms", "total_ms")
    }
    totals = [t["total_ms"] for t in timings]
    return {
        **mean,
        "samples": timings[0]["samples"],
        "timings": len(timings),
        "total_range_ms": [min(totals), max(totals)],
    }


# ----------------------------------------------------------------------------------- report


def markdown(report: dict[str, Any]) -> str:
    data, load_result = report["dataset"], report.get("load")
    lines = [
        SECTION_START,
        f"## Load benchmark ({report['date']})",
        "",
        f"- Machine: {report['machine']}"
        + (
            f"; load average (1, 5, 15 min) {report['load_average_before']} before the run, "
            f"{report['load_average_after']} after"
            if "load_average_after" in report
            else ""
        ),
        f"- Dataset: {data['users']:,} users x {data['messages_per_user']:,} messages = "
        f"{data['messages']:,} messages, synthetic persona chat (bench/corpus.py, seed "
        f"{data['seed']}), about 80% of each user's messages in their main language (half the "
        "users Chinese, half English); "
        + (
            f"stored as **{data['memories']:,} memories** "
            f"({per_user(data['memories_per_user'])} per user: "
            "fast mode's windows, under the settings they were loaded with)"
            if data.get("memories")
            else "the memories stored not counted (no --database-url)"
        ),
        f"- Service: {report['service']}",
        f"- Settings: `{json.dumps(report['settings'], ensure_ascii=False)}`",
        f"- Command: `{report['command']}`",
        f"- Each level: {report['duration_s']:.0f} s measured after {WARMUP_S:.0f} s of warm-up;"
        " clients send back to back over loopback HTTP/1.1 keep-alive."
        + (
            f" Before the search levels, one unmeasured search for each user "
            f"({warmed['searches']:,} in {warmed['seconds']:.0f} s), so that every user's rows "
            "have been read once, as the floor's have."
            if (warmed := report.get("warm"))
            else ""
        ),
        "",
    ]
    earlier = report.get("load_history")
    if not load_result and earlier and earlier.get("messages"):
        rate = earlier["messages"] / earlier["seconds"]
        lines += [
            "### Ingest (add/message, fast mode: the load runs that built this corpus)",
            "",
            f"{earlier['messages']:,} messages in {earlier['seconds']:,.0f} s: "
            f"**{rate:,.0f} messages/s** ({report['batch']} messages per call).",
            "",
        ]
    if load_result:
        lines += [
            "### Ingest (add/message, fast mode, "
            f"{report['batch']} messages per call, {report['load_clients']} clients)",
            "",
            f"{load_result['messages']:,} messages in {load_result['seconds']:,.0f} s: "
            f"**{load_result['messages_per_s'] or 0:,.0f} messages/s**"
            + (
                f" (all load runs: {load_result['all_runs_messages_per_s']:,.0f}/s)"
                if load_result.get("all_runs_messages_per_s")
                else ""
            ),
            "",
        ]
    for phase, title in (("search", "search/memory"), ("add", "add/message (fast mode)")):
        levels = report.get(phase)
        if not levels:
            continue
        extra = " | messages/s" if phase == "add" else ""
        lines += [
            f"### {title}",
            "",
            f"| clients | requests/s{extra} | p50 ms | p95 ms | p99 ms | requests | errors | "
            "CPU ms/request: service / Postgres / load generator | cores busy | x floor |",
            "|---:|---:|" + ("---:|" if extra else "") + "---:|---:|---:|---:|---:|---|---:|---:|",
        ]
        for level in levels:
            rate = f" | {level['messages_per_s']:,.0f}" if extra else ""
            cpu = level.get("cpu_ms_per_request") or {}
            split = " / ".join(
                f"{cpu.get(k, 0):.1f}" for k in ("service", "postgres", "load_generator")
            )
            busy = level.get("cpu_busy")
            lines.append(
                f"| {level['clients']} | {level['throughput']:,.1f}{rate} | {level['p50_ms']} | "
                f"{level['p95_ms']} | {level['p99_ms']} | {level['requests']:,} | "
                f"{level['errors']} | {split} | {f'{busy:.0%}' if busy is not None else ''} | "
                f"{level.get('floor_ratio') or ''} |"
            )
        lines.append("")
        floor = (report.get("floor") or {}).get(phase)
        if floor:
            what = "query embedding" if phase == "search" else "embedding the windows"
            sql = "the two channels' SQL" if phase == "search" else "the memories' INSERT"
            low, high = floor.get("total_range_ms") or [floor["total_ms"]] * 2
            lines += [
                f"Floor, measured in this run ({floor['samples']} samples, rows warm), timed "
                f"{floor.get('timings', 1)} times, before the first level and after each: "
                f"{what} {floor['embedding_ms']:.1f} + {sql} (asyncpg {floor['driver_ms']:.1f}, "
                f"Postgres {floor['postgres_ms']:.1f}) = **{floor['total_ms']:.1f} ms CPU** per "
                f"request on average ({low:.1f}-{high:.1f}: the machine's speed moves); a level's "
                "x floor = its (service + Postgres) CPU per request / the mean of the floor timed "
                "just before and just after it.",
                "",
            ]
            if phase == "add":
                # Where an add's CPU goes: the model (as the floor measured it on the same
                # texts), Postgres, and the rest of the service (HTTP, checks, windows, the ORM,
                # the driver).
                split = "; ".join(
                    f"{level['clients']} clients: embedding {floor['embedding_ms']:.1f} / "
                    f"Postgres {cpu['postgres']:.1f} / rest of the service "
                    f"{cpu['service'] - floor['embedding_ms']:.1f}"
                    for level in levels
                    if (cpu := level.get("cpu_ms_per_request"))
                )
                lines += [f"CPU ms per add: {split}.", ""]
    lines += [f"Peak RSS of the service: **{report['peak_rss_mb']} MB**.", ""]
    if report.get("mem0"):
        lines += mem0_markdown(report)
    lines.append(SECTION_END)
    return "\n".join(lines)


def mem0_markdown(report: dict[str, Any]) -> list[str]:
    """The mem0 line: its levels beside the service's (same corpus, queries, model, Postgres)."""
    mem0 = report["mem0"]
    data = mem0["dataset"]
    loaded = mem0.get("load") or {}
    history = mem0["load_history"]
    ingest = (
        f"{loaded['memories']:,} memories in {loaded['seconds']:,.0f} s in this run"
        if loaded.get("memories")
        else f"{history['memories']:,} memories in {history['seconds']:,.0f} s (earlier runs)"
    )
    how = (
        "copied into mem0's table through its vector store's `insert`, each row as its "
        "`add(infer=False)` writes it, with the vector the service stored for the same message: "
        "`--mem0-load copy`"
        if history.get("how") == "copy"
        else f"loaded into mem0 through `add(infer=False)`, {report['batch']} messages per call"
    )
    lines = [
        f"### mem0 OSS {mem0['version']}, beside it",
        "",
        f"The same {data['users']:,} users x {data['memories_per_user']:,} messages ({how}: "
        f"{ingest}) "
        "and the same queries and conversations per client, through mem0's `Memory` in-process "
        "(a child process of the benchmark, one thread per client), its pgvector store in "
        f"database `{mem0['database']}` on the same Postgres, the service's embedding model "
        f"({mem0['model']}, with e5's query/passage prefixes), {mem0['search']}. "
        f"LLM calls: **{mem0['llm_calls']}** (its LLM is a guard that raises). "
        "bench/mem0_line.py says what differs. CPU per request counts the whole mem0 process "
        "(model, mem0, driver, client threads) and Postgres; x floor against the mean of the "
        "floor's timings in the run (none is timed around mem0's levels).",
        "",
    ]
    if "results_per_search" in mem0:
        lines += [
            f"Its searches returned {mem0['results_per_search']} memories on average "
            f"(top_k={mem0['top_k']}, search/memory's default). Its SQL for one search, "
            "and how Postgres runs it:",
            "",
        ]
    for plan in mem0.get("search_plan", []):
        scans = [line for line in plan["plan"] if "Scan" in line or "Filter" in line]
        lines.append(f"- `{plan['sql'][:150]} ...`: {'; '.join(scans)}")
    lines.append("")
    for phase, title in (("search", "search"), ("add", "add, 4 messages per call")):
        levels = mem0.get(f"{phase}_levels")
        if not levels:
            continue
        service = {level["clients"]: level for level in report.get(phase) or []}
        lines += [
            f"#### mem0 {title}",
            "",
            "| clients | requests/s | x memos-server | p50 ms | p95 ms | p99 ms | requests | "
            "errors | CPU ms/request: mem0 process / Postgres | cores busy | x floor |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
        ]
        for level in levels:
            if not level["requests"]:
                # Every search outlasted the level (sent in its warm-up, still running): no
                # latency to show, and CPU per request would divide by nothing.
                lines.append(
                    f"| {level['clients']} | 0 | | none finished within the level | | | 0 | "
                    f"{level['errors']} | | {level['cpu_busy']:.0%} | |"
                )
                continue
            cpu = level["cpu_ms_per_request"]
            theirs = service.get(level["clients"])
            versus = (
                f"{level['throughput'] / theirs['throughput']:.2f}"
                if theirs and theirs["throughput"]
                else ""
            )
            lines.append(
                f"| {level['clients']} | {level['throughput']:,.1f} | {versus} | "
                f"{level['p50_ms']} | {level['p95_ms']} | {level['p99_ms']} | "
                f"{level['requests']:,} | {level['errors']} | "
                f"{cpu['mem0']:.1f} / {cpu['postgres']:.1f} | {level['cpu_busy']:.0%} | "
                f"{level.get('floor_ratio') or ''} |"
            )
        lines.append("")
    lines += [f"Peak RSS of the mem0 process: **{mem0['peak_rss_mb']} MB**.", ""]
    return lines


def write_markdown(
    path: Path, section: str, start: str = SECTION_START, end: str = SECTION_END
) -> None:
    """Put ``section`` (which begins with ``start`` and ends with ``end``) into the file, in
    place of an earlier one."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


# ------------------------------------------------------------------------------------- main


# How the benchmark runs the service it starts: a memory per exchange, in Chinese too (the
# service's default for Chinese is two exchanges, which made a Chinese user's 2,000 messages 1,000
# memories), and no per-key rate limit (one key drives the whole load; the limit would measure
# itself, not the service).
OWN_SERVICE_SETTINGS = {
    "MEMOS_FAST__WINDOW_TURNS": "1",
    "MEMOS_FAST__WINDOW_TURNS_ZH": "1",
    "MEMOS_LIMITS__RATE_PER_KEY": "0",
}


def service_env(data_dir: Path, state: State, **extra: str) -> dict[str, str]:
    """The settings of the service this script starts (the floor reads the same)."""
    return {
        "MEMOS_DATA_DIR": str(data_dir),
        "MEMOS_EMBEDDING__CACHE_DIR": str(data_dir / "models"),
        "MEMOS_API_KEY": state.api_key,
        **OWN_SERVICE_SETTINGS,
        **{k: v for k, v in os.environ.items() if k.startswith("MEMOS_")},
        **extra,
    }


def own_service(data_dir: Path, state: State, **extra: str) -> tuple[Any, str]:
    from tests.support.process import ServiceProcess

    data_dir.mkdir(parents=True, exist_ok=True)
    service = ServiceProcess(data_dir, **service_env(data_dir, state, **extra)).start()
    return service, service.base_url


class OwnReplica:
    """``--replica``: a streaming replica of the embedded Postgres in ``--data-dir``, made
    afresh (``pg_basebackup -R``) and started on loopback; the service reads from it
    (``MEMOS_DATABASE__READ_URLS``). This process holds the primary meanwhile."""

    def __init__(self, data_dir: Path) -> None:
        import shutil

        from memos_server.storage.embedded import EmbeddedPostgres
        from tests.support.replica import StreamingReplica

        self.primary = EmbeddedPostgres(data_dir)
        url = self.primary.start()
        pgdata = data_dir / "replica"
        shutil.rmtree(pgdata, ignore_errors=True)
        self.replica = StreamingReplica(url, pgdata)
        self.replica.create()
        self.replica.start()
        self.url = self.replica.url("postgres")

    @property
    def postmaster(self) -> int:
        """The replica's postmaster: its CPU counts as Postgres's, beside the primary's."""
        pid = (self.replica.pgdata / "postmaster.pid").read_text().split("\n", 1)[0]
        return int(pid)

    def stop(self) -> None:
        self.replica.stop()
        self.primary.stop()


def reads_by_target(base_url: str) -> dict[str, float]:
    """``memos_db_reads_total`` of the service: where its read-only requests ran."""
    import httpx

    root = base_url.split("/api/", 1)[0]
    metrics = httpx.get(f"{root}/metrics", timeout=10).text
    found = re.findall(r'^memos_db_reads_total\{target="(\w+)"\} (\S+)$', metrics, re.M)
    return {target: float(count) for target, count in found}


def optional_path(value: str) -> Path | None:
    return Path(value) if value else None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument(
        "--memories", type=int, default=2000, help="messages per user (about as many memories)"
    )
    parser.add_argument("--batch", type=int, default=200, help="messages per add while loading")
    parser.add_argument("--load-clients", type=int, default=2)
    parser.add_argument("--levels", default="1,8,32,128", help="concurrent clients per level")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per level")
    parser.add_argument("--phases", default="load,search,add")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".bench-data")
    parser.add_argument("--base-url", help="a running instance (default: start one)")
    parser.add_argument("--api-key", help="its key")
    parser.add_argument("--pid", type=int, help="its process id, to report its memory")
    parser.add_argument(
        "--database-url", help="its database, for the floor (default: the service started here)"
    )
    parser.add_argument(
        "--floor-samples", type=int, default=100, help="searches and adds the floor is timed on"
    )
    parser.add_argument(
        "--no-warm",
        dest="warm",
        action="store_false",
        help="skip the unmeasured search of every user before the search levels",
    )
    parser.add_argument("--state", type=Path, help="progress file (default: in --data-dir)")
    parser.add_argument(
        "--replica",
        action="store_true",
        help="the service started here reads from a streaming replica of its embedded Postgres "
        "(made after the load phase, on loopback): search/memory's reads run there",
    )
    parser.add_argument(
        "--mem0",
        action="store_true",
        help="a mem0 OSS line beside the service's (bench/mem0_line.py; pip install -e '.[bench]'):"
        " the same corpus (loaded into mem0 once) and queries, in-process, same Postgres and model",
    )
    parser.add_argument(
        "--mem0-load",
        choices=("add", "copy"),
        default="add",
        help="how the corpus gets into mem0: its add(infer=False), or (copy) its vector store's "
        "insert with the payloads add makes and the service's vectors of the same messages, for "
        "a corpus mem0's add would take hours over (bench/mem0_line.py copy_load)",
    )
    parser.add_argument("--markdown", type=optional_path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--json", type=optional_path, default=ROOT / "bench/results/load.json")
    return parser.parse_args(argv)


def mem0_line(args: argparse.Namespace, state: State, phases: list[str], own: bool) -> Any:
    """``--mem0``: bench/mem0_line.py in a child process, after the service's levels, on the same
    Postgres (the embedded one, which the service still holds, or ``--database-url``'s)."""
    from bench.mem0_line import measure

    if not own and not args.database_url:
        raise SystemExit("--mem0 with --base-url needs --database-url (mem0's Postgres)")
    print("mem0 line ...", file=sys.stderr)
    spec = {
        "users": state.users_loaded,
        "memories": state.memories_per_user,
        "batch": args.batch,
        "load_clients": args.load_clients,
        "seed": state.seed,
        "levels": [int(x) for x in args.levels.split(",") if x.strip()],
        "duration": args.duration,
        "phases": ["load", *[p for p in ("search", "add") if p in phases]],
        "run": uuid.uuid4().hex[:6],
        "data_dir": str(args.data_dir),
        "database_url": args.database_url,
        "postmaster": args.postmaster,
        "load_how": args.mem0_load,
    }
    return measure(spec, service_env(args.data_dir, state) if own else {})


def interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    # Stop cleanly (and stop the service started here) on Ctrl-C or kill, even in background.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    state_path = args.state or args.data_dir / "bench-state.json"
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state = State.read(state_path) or State(
        api_key=args.api_key or f"mk-bench-{uuid.uuid4().hex}", seed=args.seed
    )
    args.seed = state.seed
    service = replica = None
    if args.base_url:
        if not args.api_key or args.replica:
            raise SystemExit("give --api-key with --base-url (and no --replica)")
        state.api_key = args.api_key
        pid = args.pid
    else:
        args.api_key = state.api_key
        if args.replica and "load" in phases:
            # The corpus first: the replica is a copy of it.
            print(f"starting memos-server on {args.data_dir} to load ...", file=sys.stderr)
            service, args.base_url = own_service(args.data_dir, state)
            try:
                asyncio.run(load(args, state, state_path))
            finally:
                service.stop()
            phases.remove("load")
        if args.replica:
            print("making a streaming replica ...", file=sys.stderr)
            replica = OwnReplica(args.data_dir)
        print(f"starting memos-server on {args.data_dir} ...", file=sys.stderr)
        reads = {"MEMOS_DATABASE__READ_URLS": replica.url} if replica else {}
        service, args.base_url = own_service(args.data_dir, state, **reads)
        pid = service.process.pid
    args.api_key = state.api_key
    args.pid = pid
    args.postmaster = postmaster_pid(args.data_dir) if service else None
    args.replica_postmasters = [replica.postmaster] if replica else []
    state.write(state_path)

    probe: floor_bench.Probe | None = None
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "command": "python bench/load.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "service": (
            "started by the benchmark: memos-server serve, embedded PostgreSQL 16 + pgvector, "
            "the local embedding model its settings name"
            if service
            else f"{args.base_url} (already running)"
        ),
        "settings": {
            **(OWN_SERVICE_SETTINGS if service else {}),
            **{k: v for k, v in sorted(os.environ.items()) if k.startswith("MEMOS_")},
        },
        "batch": args.batch,
        "load_clients": args.load_clients,
        "duration_s": args.duration,
    }
    try:
        with RssSampler(pid) as rss:
            if "load" in phases:
                print(f"load: {args.users} users x {args.memories} messages", file=sys.stderr)
                report["load"] = asyncio.run(load(args, state, state_path))
            users = state.users_loaded
            report["load_history"] = {
                "messages": state.load_memories,
                "seconds": round(state.load_seconds, 1),
            }
            report["dataset"] = {
                "users": users,
                "messages_per_user": state.memories_per_user,
                "messages": users * state.memories_per_user,
                "seed": state.seed,
            }
            if users and (service or args.database_url):
                report["dataset"] |= stored_memories(args.database_url, args.data_dir)
            levels = [int(x) for x in args.levels.split(",") if x.strip()]
            measured = ("search" in phases or "add" in phases) and users
            if measured and args.floor_samples > 0 and (service or args.database_url):
                print(f"floor: {args.floor_samples} searches and adds", file=sys.stderr)
                probe = asyncio.run(
                    floor_bench.prepare(
                        env=service_env(args.data_dir, state) if service else {},
                        database_url=args.database_url,
                        data_dir=args.data_dir,
                        seed=state.seed,
                        users=users,
                        samples=args.floor_samples,
                    )
                )
                report["floor"] = floor_bench.described(probe)
                report["service"] += f" ({probe.model})"
            timings: dict[str, list[dict[str, Any]]] = {"search": [], "add": []}

            def floor_now(phase: str) -> float | None:
                """The phase's floor timed now (None without a probe)."""
                if probe is None:
                    return None
                timed = asyncio.run(floor_bench.time_floor(probe, (phase,)))[phase]
                timings[phase].append(timed)
                print(f"  floor: {timed}", file=sys.stderr)
                return float(timed["total_ms"])

            def run_levels(phase: str, make_call: Callable[[int], MakeCall], each: int) -> None:
                """Each level, the floor timed before the first and after each one."""
                report[phase] = []
                before = floor_now(phase)
                for clients in levels:
                    print(f"{phase}: {clients} clients", file=sys.stderr)
                    level = asyncio.run(drive(args, clients, make_call(clients), each))
                    after = floor_now(phase)
                    if before is not None and after is not None:
                        level.floor_ms = round((before + after) / 2, 2)
                    level.floor_ratio = ratio(level, level.floor_ms)
                    report[phase].append(asdict(level))
                    print(f"  {asdict(level)}", file=sys.stderr)
                    before = after

            if "search" in phases and users:
                if args.warm:
                    print(f"warm: one search for each of {users} users", file=sys.stderr)
                    report["warm"] = asyncio.run(warm(args, users))
                run_levels("search", lambda _clients: search_call(args, users), 0)
            if "add" in phases:
                run = uuid.uuid4().hex[:6]
                run_levels("add", lambda clients: add_call(args.seed, clients, run), 4)
            for phase, timed in timings.items():
                if timed:
                    report["floor"][phase] = floor_summary(timed)
        report["peak_rss_mb"] = rss.peak_mb
        if args.mem0 and report.get("dataset", {}).get("users"):
            report["mem0"] = mem0 = mem0_line(args, state, phases, service is not None)
            for phase in ("search", "add"):
                for level in mem0.get(f"{phase}_levels", []):
                    cpu = level["cpu_ms_per_request"]
                    total = (report.get("floor") or {}).get(phase, {}).get("total_ms")
                    if total:
                        level["floor_ratio"] = round((cpu["mem0"] + cpu["postgres"]) / total, 2)
        if replica is not None:
            report["service"] += (
                "; reads from a streaming replica on loopback (--replica); the Postgres column"
                " counts the primary's and the replica's CPU"
            )
            report["reads"] = reads_by_target(args.base_url)
    finally:
        try:
            if probe is not None:
                asyncio.run(floor_bench.close(probe))
        finally:
            if service is not None:
                service.stop()
            if replica is not None:
                replica.stop()
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    section = markdown(report)
    print(section)
    if args.markdown:
        write_markdown(args.markdown, section)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return report


if __name__ == "__main__":
    main()
