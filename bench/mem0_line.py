"""The mem0 line of the load benchmark (``bench/load.py --mem0``): what a user who picked mem0 OSS
would get on this machine, from the same corpus and the same queries, in the same run.

mem0ai 2.2.1 (the ``bench`` extra: ``pip install -e ".[bench]"``) runs in-process, as its users
run it: its sync ``Memory`` called from threads, one per client (its ``AsyncMemory`` only wraps the
same calls in ``asyncio.to_thread``). It runs in a child process of its own (this module's
``main``), so the CPU and peak RSS it reports are mem0's alone. Set up as close to the service as
mem0 allows:

- the pgvector store, in a database of its own (``mem0_bench``) on the Postgres the benchmark
  uses (the embedded one in ``--data-dir``, or ``--database-url``'s server);
- the service's own embedding model: the object ``load_embedder`` builds from the same
  ``MEMOS_EMBEDDING__*`` settings, plugged in as a mem0 ``EmbeddingBase``; ``memory_action``
  "search" embeds as a query, "add"/"update" as a passage (e5's ``query: `` / ``passage: ``);
- ``add(..., infer=False)``: one memory per message, as the service the benchmark starts makes
  (``MEMOS_FAST__WINDOW_TURNS=1``); searches ask for the service's default 6 results;
- exact search, as the service's per-user vector channel: ``hnsw=False``. mem0's default builds an
  HNSW index, which filters by user only after the index's ``ef_search`` (40) nearest of *all*
  users: with hundreds of users most searches would come back short or empty.

What stays mem0's own: its search pipeline (embedding, a cosine ``ORDER BY`` over the rows whose
``payload->>'user_id'`` matches, with no index on that key, so Postgres reads every user's rows;
a ``to_tsvector('simple', ...)`` keyword query; its scoring in Python), and its add (per message:
one embedding, one INSERT, one row in its SQLite history; no batching). Without its ``nlp`` extra
(spaCy, not installed) its BM25 text is the raw text and it extracts no entities, as for a plain
``pip install mem0ai``. Its connection pool is sized to the clients (mem0's default holds 5).

No LLM: mem0's config requires one, so it names OpenAI at a closed loopback port, and the object
is then replaced by ``NeverCalled``, which counts calls and raises; the report carries the count
(0). Telemetry is off (``MEM0_TELEMETRY=False``, set before mem0 is imported; its files go to
``<data-dir>/mem0``).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import resource
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.corpus import messages, query  # noqa: E402
from bench.load import WARMUP_S, Level, Progress, cpu_seconds, user_id  # noqa: E402

MEM0_VERSION = "2.2.1"
DATABASE = "mem0_bench"
TOP_K = 6  # search/memory's default memory_limit_number
OpCall = Callable[[random.Random, int, int], None]  # (rng, client number, sequence)


class NeverCalled:
    """Stands in for mem0's LLM: with ``infer=False`` nothing may call it."""

    def __init__(self) -> None:
        self.calls = 0

    def generate_response(self, *args: Any, **kwargs: Any) -> str:
        self.calls += 1
        raise AssertionError("mem0 called its LLM in an infer=False benchmark")


def same_model(embedder: Any) -> Any:
    """The service's embedder as a mem0 ``EmbeddingBase``: its async ``embed`` runs on a loop in a
    thread of its own, as in the service (its batcher and worker threads included)."""
    from mem0.embeddings.base import EmbeddingBase

    from memos_server.embedding import TextKind

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="embed-loop", daemon=True).start()

    class SameModel(EmbeddingBase):  # type: ignore[misc]
        def embed(self, text: str, memory_action: str | None = None) -> list[float]:
            return self.embed_batch([text], memory_action)[0]

        def embed_batch(self, texts: list[str], memory_action: str | None = "add") -> Any:
            kind = TextKind.QUERY if memory_action == "search" else TextKind.PASSAGE
            return asyncio.run_coroutine_threadsafe(embedder.embed(texts, kind), loop).result()

    return SameModel()


def conninfo(url: str, dbname: str | None) -> str:
    """``url`` as psycopg takes it, in database ``dbname`` (``None``: its own)."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(url.replace("postgresql+asyncpg://", "postgresql://", 1), dbname=dbname)


def ensure_database(url: str) -> str:
    import psycopg

    with psycopg.connect(conninfo(url, "postgres"), autocommit=True) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        if found.fetchone() is None:
            connection.execute(f"CREATE DATABASE {DATABASE}")
    return conninfo(url, DATABASE)


def make_memory(database: str, collection: str, dims: int, connections: int, home: Path) -> Any:
    from mem0 import Memory
    from mem0.configs.base import MemoryConfig

    closed = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
    config = MemoryConfig(
        vector_store={
            "provider": "pgvector",
            "config": {
                "connection_string": database,
                "collection_name": collection,
                "embedding_model_dims": dims,
                "hnsw": False,
                "diskann": False,
                "maxconn": connections,
            },
        },
        # Required by the config; both replaced below, before any use.
        llm={"provider": "openai", "config": {"api_key": "unused", "openai_base_url": closed}},
        embedder={"provider": "openai", "config": {"api_key": "unused", "openai_base_url": closed}},
        history_db_path=str(home / f"{collection}-history.db"),
    )
    return Memory(config)


@contextmanager
def statements(memory: Any) -> Iterator[list[tuple[str, Any]]]:
    """The SQL mem0's vector store sends meanwhile, as (text, parameters)."""
    store = memory.vector_store
    original = store._get_cursor
    sent: list[tuple[str, Any]] = []

    class Recording:
        def __init__(self, cursor: Any) -> None:
            self._cursor = cursor

        def execute(self, sql: Any, parameters: Any = None) -> Any:
            text = sql.as_string(self._cursor.connection) if hasattr(sql, "as_string") else sql
            sent.append((" ".join(str(text).split()), parameters))
            return self._cursor.execute(sql, parameters)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._cursor, name)

    @contextmanager
    def recording(commit: bool = False) -> Iterator[Any]:
        with original(commit) as cursor:
            yield Recording(cursor)

    store._get_cursor = recording
    try:
        yield sent
    finally:
        store._get_cursor = original


def search_plan(memory: Any, user: str, question: str) -> list[dict[str, Any]]:
    """One search's statements and how Postgres runs each (EXPLAIN, first lines)."""
    with statements(memory) as sent:
        memory.search(question, filters={"user_id": user}, top_k=TOP_K)
    found = []
    with memory.vector_store._get_cursor() as cursor:
        for sql, parameters in sent:
            if not sql.upper().startswith("SELECT") or parameters is None:
                continue
            cursor.execute("EXPLAIN (COSTS OFF) " + sql, parameters)
            plan = [re.sub(r"'\[[^']*\]'::vector", "$vector", row[0]).strip() for row in cursor]
            found.append({"sql": sql, "plan": plan})
    return found


# ----------------------------------------------------------------------------------- corpus


def load(memory: Any, state: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Every user's history through ``add(infer=False)``, ``batch`` messages per call."""
    users, per_user, batch, seed = spec["users"], spec["memories"], spec["batch"], spec["seed"]
    first = start_load(memory, state, spec)
    if first >= users:
        return {"memories": 0}
    progress = Progress((users - first) * per_user, "mem0 memories")
    lock, finished = threading.Lock(), set()
    started = time.perf_counter()

    def one(u: int) -> None:
        for start in range(0, per_user, batch):
            count = min(batch, per_user - start)
            added = memory.add(messages(seed, u, start, count), user_id=user_id(u), infer=False)
            if len(added["results"]) != count:
                raise RuntimeError(f"mem0 stored {len(added['results'])} of {count} messages")
            with lock:
                progress.advance(count)
        with lock:
            finished.add(u)
            while state["users_loaded"] in finished:
                state["users_loaded"] += 1
            spec["save"](state)

    with ThreadPoolExecutor(spec["load_clients"]) as pool:
        list(pool.map(one, range(first, users)))
    return finish_load(state, spec, first, started, "add")


def start_load(memory: Any, state: dict[str, Any], spec: dict[str, Any]) -> int:
    """The first user to load: those after the last finished one are deleted (a user not
    finished last time starts afresh)."""
    import psycopg
    from psycopg import sql

    store = memory.vector_store
    if state["users_loaded"] and state["memories_per_user"] != spec["memories"]:
        held = state["memories_per_user"]
        raise SystemExit(f"mem0's {store.collection_name} holds {held} per user")
    state["memories_per_user"] = spec["memories"]
    first: int = state["users_loaded"]
    if first < spec["users"]:
        store._ensure_collection()
        with psycopg.connect(spec["mem0_database"], autocommit=True) as connection:
            connection.execute(
                sql.SQL("DELETE FROM {} WHERE payload->>'user_id' >= %s").format(
                    sql.Identifier(store.collection_name)
                ),
                (user_id(first),),
            )
    return first


def finish_load(
    state: dict[str, Any], spec: dict[str, Any], first: int, started: float, how: str
) -> dict[str, Any]:
    seconds = time.perf_counter() - started
    loaded = (spec["users"] - first) * spec["memories"]
    state["load_seconds"] += seconds
    state["load_memories"] += loaded
    state["load_how"] = how
    spec["save"](state)
    return {"memories": loaded, "seconds": round(seconds, 1), "memories_per_s": loaded / seconds}


def copy_load(
    memory: Any, service_database: str, state: dict[str, Any], spec: dict[str, Any]
) -> dict[str, Any]:
    """``--mem0-load copy``: every user's rows as mem0's ``add(infer=False)`` would write them
    (``_create_memory``'s payload: the user, the role, the message, its md5, the times, the
    BM25 text) through mem0's own ``vector_store.insert``, a user (``memories`` rows) per call,
    with the vectors the service stored for the same messages. mem0's add embeds each message
    alone (50-70 a second here: a million would take five hours); the service's vector is of
    ``"<role>: <message>"`` where mem0's would be of the message, which changes nothing a search
    costs. Its SQLite history (one row per memory, which search never reads) is not written."""
    import hashlib
    from datetime import UTC, datetime

    import psycopg
    from mem0.memory.main import _build_filters_and_metadata
    from mem0.utils.lemmatization import lemmatize_for_bm25

    users, per_user = spec["users"], spec["memories"]
    first = start_load(memory, state, spec)
    if first >= users:
        return {"memories": 0}
    progress = Progress((users - first) * per_user, "mem0 memories (copied)")
    started = time.perf_counter()
    with psycopg.connect(service_database) as service:
        for u in range(first, users):
            rows = service.execute(
                "SELECT memory_value, embedding::text FROM memories WHERE user_id = %s "
                "AND status = 'activated' ORDER BY create_time, id",
                (user_id(u),),
            ).fetchall()
            if len(rows) != per_user:
                raise SystemExit(f"the service holds {len(rows)} memories of {user_id(u)}")
            template, _ = _build_filters_and_metadata(user_id=user_id(u))
            payloads, vectors = [], []
            for text, vector in rows:
                role, _, content = text.partition(": ")
                now = datetime.now(UTC).isoformat()
                payload = {**template, "role": role, "data": content}
                payload["hash"] = hashlib.md5(content.encode()).hexdigest()  # noqa: S324 - mem0's
                payload.update(created_at=now, updated_at=now)
                payload["text_lemmatized"] = lemmatize_for_bm25(content)
                payloads.append(payload)
                vectors.append(json.loads(vector))
            ids = [str(uuid.uuid4()) for _ in rows]
            memory.vector_store.insert(vectors=vectors, payloads=payloads, ids=ids)
            progress.advance(len(rows))
            state["users_loaded"] = u + 1
            spec["save"](state)
    return finish_load(state, spec, first, started, "copy")


# ----------------------------------------------------------------------------------- levels


def drive(clients: int, duration: float, call: OpCall, seed: str, postmaster: int | None) -> Level:
    """``clients`` threads calling back to back: WARMUP_S unmeasured, then ``duration``. Client
    ``n`` draws from ``random.Random(f"{seed}:{n}")``, as load.py's HTTP clients do."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    measure_from = time.perf_counter() + WARMUP_S
    stop_at = measure_from + duration

    def client(number: int) -> None:
        rng = random.Random(f"{seed}:{number}")
        sequence = 0
        while (sent := time.perf_counter()) < stop_at:
            problem = ""
            try:
                call(rng, number, sequence)
            except Exception as exc:  # a failed call is an error of the level, as an HTTP 500
                problem = f"{type(exc).__name__}: {exc}"[:200]
            sequence += 1
            took = time.perf_counter() - sent
            if sent >= measure_from:
                with lock:
                    latencies.append(took * 1000)
                    if problem:
                        errors.append(problem)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    before = cpu_seconds(None, postmaster)
    for thread in threads:
        thread.join()
    after = cpu_seconds(None, postmaster)
    seconds = time.perf_counter() - measure_from
    used = {
        "mem0": after["load_generator"] - before["load_generator"],
        "postgres": after["postgres"] - before["postgres"],
    }
    return Level.measured(clients, latencies, errors, seconds, used)


def search_op(memory: Any, seed: int, users: int, found: list[int]) -> OpCall:
    """Each search's result count goes to ``found``."""

    def call(rng: random.Random, _number: int, _sequence: int) -> None:
        u = rng.randrange(users)
        answer = memory.search(query(rng, seed, u), filters={"user_id": user_id(u)}, top_k=TOP_K)
        found.append(len(answer["results"]))

    return call


def add_op(memory: Any, seed: int, clients: int, run: str) -> OpCall:
    """load.add_call's conversations: the same 4 messages for the same client and sequence."""

    def call(_rng: random.Random, number: int, sequence: int) -> None:
        conversation = messages(seed + sequence, 10_000 + number, 0, 4)
        added = memory.add(conversation, user_id=f"bench-add-{run}-{clients}-{number}", infer=False)
        if len(added["results"]) != len(conversation):
            raise RuntimeError(f"mem0 stored {len(added['results'])} of 4 messages")

    return call


# ------------------------------------------------------------------------------------- main


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec``: users, memories, batch, load_clients, seed, levels, duration, phases, run,
    data_dir, database_url (or None: the embedded Postgres in data_dir), postmaster."""
    from mem0.memory import telemetry

    from memos_server.embedding import load_embedder
    from memos_server.settings import Settings
    from memos_server.storage.embedded import EmbeddedPostgres

    assert not telemetry.MEM0_TELEMETRY, "set MEM0_TELEMETRY=False before mem0 is imported"
    data_dir = Path(spec["data_dir"])
    home = data_dir / "mem0"
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings()
    embedder = asyncio.run(load_embedder(settings.embedding, settings.model_cache_dir))
    embedded = EmbeddedPostgres(data_dir) if spec["database_url"] is None else None
    url = spec["database_url"] or embedded.start()  # type: ignore[union-attr]
    collection = "memories_" + re.sub(r"\W+", "_", embedder.name).strip("_").lower()[:40]
    state_path = home / f"{collection}-state.json"
    state = (
        json.loads(state_path.read_text())
        if state_path.exists()
        else {"users_loaded": 0, "memories_per_user": 0, "load_seconds": 0.0, "load_memories": 0}
    )
    spec["save"] = lambda s: state_path.write_text(json.dumps(s, indent=2))
    levels = spec["levels"]
    try:
        database = ensure_database(url)
        memory = make_memory(
            database, collection, embedder.dimension, max([*levels, spec["load_clients"]]), home
        )
        memory.embedding_model = same_model(embedder)
        guard = memory.llm = NeverCalled()
        report: dict[str, Any] = {
            "version": MEM0_VERSION,
            "model": embedder.name,
            "database": DATABASE,
            "collection": collection,
            "search": "exact (hnsw=False): mem0's own SQL",
        }
        if "load" in spec["phases"]:
            how = spec.get("load_how", "add")
            print(f"mem0 load ({how}): {spec['users']} users x {spec['memories']}", file=sys.stderr)
            spec["mem0_database"] = database
            if how == "copy":
                service = conninfo(url, None)  # the service's own database
                report["load"] = copy_load(memory, service, state, spec)
            else:
                report["load"] = load(memory, state, spec)
        users = state["users_loaded"]
        report["load_history"] = {
            "memories": state["load_memories"],
            "seconds": round(state["load_seconds"], 1),
            "how": state.get("load_how", "add"),
        }
        report["dataset"] = {"users": users, "memories_per_user": state["memories_per_user"]}
        seed = spec["seed"]
        if "search" in spec["phases"] and users:
            question = query(random.Random(0), seed, 0)
            report["search_plan"] = search_plan(memory, user_id(0), question)
            report["search_levels"] = []
            found: list[int] = []
            for clients in levels:
                print(f"mem0 search: {clients} clients", file=sys.stderr)
                level = drive(
                    clients,
                    spec["duration"],
                    search_op(memory, seed, users, found),
                    f"{seed}:{clients}",
                    spec["postmaster"],
                )
                report["search_levels"].append(asdict(level))
                print(f"  {asdict(level)}", file=sys.stderr)
            report["results_per_search"] = round(sum(found) / max(len(found), 1), 2)
            report["top_k"] = TOP_K
        if "add" in spec["phases"]:
            report["add_levels"] = []
            for clients in levels:
                print(f"mem0 add: {clients} clients", file=sys.stderr)
                call = add_op(memory, seed, clients, spec["run"])
                level = drive(clients, spec["duration"], call, f"{seed}:{clients}", None)
                level.messages_per_s = round(level.throughput * 4, 1)
                report["add_levels"].append(asdict(level))
                print(f"  {asdict(level)}", file=sys.stderr)
        report["llm_calls"] = guard.calls
        report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        memory.vector_store.connection_pool.close()
        return report
    finally:
        asyncio.run(embedder.aclose())
        if embedded is not None:
            embedded.stop()


def child_env(data_dir: Path, service_env: dict[str, str]) -> dict[str, str]:
    """This process's environment for the child: the service's settings (the same model), no
    mem0 telemetry, mem0's files in the data dir."""
    return {
        **os.environ,
        **service_env,
        "MEM0_TELEMETRY": "False",
        "MEM0_DIR": str(data_dir / "mem0"),
    }


def measure(spec: dict[str, Any], service_env: dict[str, str]) -> dict[str, Any]:
    """Run the mem0 line in a child process; its report."""
    import importlib.util
    import subprocess

    if importlib.util.find_spec("mem0") is None or importlib.util.find_spec("psycopg") is None:
        raise SystemExit("--mem0 needs the bench extra: pip install -e '.[bench]'")
    data_dir = Path(spec["data_dir"])
    done = subprocess.run(  # noqa: S603 - this interpreter, this file
        [sys.executable, str(Path(__file__).resolve())],
        input=json.dumps(spec),
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(data_dir, service_env),
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the mem0 line failed (exit {done.returncode}); see above")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def main() -> None:
    spec = json.loads(sys.stdin.read())
    report = run(spec)
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
