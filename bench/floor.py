"""The floor: the least CPU a search or a fast add can cost, measured beside the load benchmark.

A search cannot cost less than its query's embedding plus its two channels' SQL (the user's
exact vector scan and full-text match) answered by Postgres with the user's rows warm; a fast add
no less than embedding its windows plus inserting their memory rows. ``bench/load.py`` measures
both here, in its own process, on the same data in the same run, and sets the service's CPU per
request beside them (``ratio``: service + Postgres CPU per request / the floor's). The samples
are prepared once (``prepare``) and timed as often as the run wants (``time_floor``): before the
first level and after each, while no client is calling.

The SQL is the service's own, not a copy: one search (or add) per sample runs in this process
through the service's code (``search_memories`` in its one-pass form, the cheaper in Postgres CPU;
``MessageIntake``) on an engine that records the statements it sends, through SQLAlchemy or on the
driver directly (the add rolled back). The floor replays only the channels' statements (those with
``<=>`` or ``ts_match_vq``), or the ``INSERT INTO memories``, straight through plain asyncpg on one
connection: a warm-up pass, then a measured one. CPU is counted where it is spent: the embedding
and the driver in this process (``os.times``, all threads, nothing else running in it meanwhile),
the statements in that connection's backend (``/proc/<pid>/stat``).
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.corpus import messages, query

Statement = tuple[str, Any, bool]  # SQL, its parameters, executemany


@dataclass(frozen=True)
class Floor:
    """CPU milliseconds per operation, where it is spent."""

    samples: int
    embedding_ms: float  # the model, in this process
    driver_ms: float  # asyncpg sending the statements and decoding the rows, in this process
    postgres_ms: float  # the backend answering them

    @property
    def total_ms(self) -> float:
        return round(self.embedding_ms + self.driver_ms + self.postgres_ms, 2)

    def report(self) -> dict[str, Any]:
        return {**asdict(self), "total_ms": self.total_ms}


def process_cpu() -> float:
    times = os.times()
    return times.user + times.system


def pid_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """The service's ``MEMOS_*`` settings for this process's ``Settings()`` meanwhile."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _replay(connection: Any, statements: list[Statement]) -> None:
    for sql, parameters, many in statements:
        # An insert of many rows in one statement (SQLAlchemy's "insertmanyvalues") is reported as
        # executemany with one flat parameter tuple (whose values may be lists): the shape decides.
        if many and all(isinstance(row, (list, tuple)) for row in parameters):
            await connection.executemany(sql, parameters)
        else:
            await connection.fetch(sql, *parameters)


async def _measure(
    connection: Any, samples: list[list[Statement]], *, rollback: bool
) -> tuple[float, float]:
    """(driver CPU s, backend CPU s) of one pass over ``samples``, after a warm-up pass."""
    backend = int(await connection.fetchval("SELECT pg_backend_pid()"))

    async def one_pass() -> None:
        for statements in samples:
            if rollback:
                transaction = connection.transaction()
                await transaction.start()
                await _replay(connection, statements)
                await transaction.rollback()
            else:
                await _replay(connection, statements)

    await one_pass()  # the rows warm, the statements prepared
    mine, theirs = process_cpu(), pid_cpu(backend)
    await one_pass()
    return process_cpu() - mine, pid_cpu(backend) - theirs


@dataclass
class Probe:
    """What the floor is timed on, prepared once (``prepare``) and timed as often as wanted
    (``time_floor``): the model loaded in this process, each sample's statements as the service
    sent them, and the texts it embedded."""

    model: str
    url: str  # plain asyncpg DSN of the service's database
    embedder: Any
    queries: list[str]
    windows: list[list[str]]
    searches: list[list[Statement]]
    inserts: list[list[Statement]]
    embedded: Any  # the embedded Postgres this process attached to, or None

    @property
    def samples(self) -> int:
        return len(self.queries)


async def prepare(
    *,
    env: dict[str, str],
    database_url: str | None,
    data_dir: Path,
    seed: int,
    users: int,
    samples: int,
) -> Probe:
    """Run one search (and one 4-message fast add, as ``load.add_call`` sends, rolled back) per
    sample through the service's own code, recording the statements it sends."""
    from sqlalchemy import event, text

    from memos_server.embedding import load_embedder
    from memos_server.services import ingest
    from memos_server.services.ingest import AddMessages, IncomingMessage, MessageIntake
    from memos_server.services.search.engine import SearchQuery, search_memories
    from memos_server.settings import Settings
    from memos_server.storage.database import Database
    from memos_server.storage.driver_sql import driver_statement
    from memos_server.storage.embedded import EmbeddedPostgres
    from memos_server.storage.repositories.added_rows import insert_memories, memory_rows_insert

    with environment(env):
        settings = Settings()
    embedded = EmbeddedPostgres(data_dir) if database_url is None else None
    url = database_url or await asyncio.to_thread(embedded.start)  # type: ignore[union-attr]
    embedder = await load_embedder(settings.embedding, settings.model_cache_dir)
    database = Database(url, settings.database, embedding_model=embedder.name)
    sent: list[Statement] = []

    def record(_conn: Any, _cursor: Any, sql: str, parameters: Any, _ctx: Any, many: bool) -> None:
        sent.append((sql, parameters, many))

    def logged(query: Any) -> None:
        # A statement the service runs on the driver itself (``storage.driver_sql``). One that
        # SQLAlchemy sent is recorded above, just before asyncpg ran (and maybe logged) it.
        if not sent or sent[-1][0] != query.query:
            sent.append((query.query, tuple(query.args), False))

    def taken(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(logged)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    event.listen(database.engine.sync_engine.pool, "checkout", taken)
    rng = random.Random(f"{seed}:floor")
    asked = [(u := rng.randrange(users), query(rng, seed, u)) for _ in range(samples)]
    adds = [messages(seed + 1_000_000 + i, 20_000 + i, 0, 4) for i in range(samples)]
    try:
        async with database.session() as session:
            project = (
                await session.execute(
                    text("SELECT project_id FROM memories WHERE user_id = :u LIMIT 1"),
                    {"u": "bench-u00000"},
                )
            ).scalar_one()
        searches: list[list[Statement]] = []
        for user, question in asked:
            sent.clear()
            async with database.session() as session:
                await search_memories(
                    session,
                    embedder,
                    settings,
                    project,
                    SearchQuery(user_id=f"bench-u{user:05d}", query=question),
                    single_scan=True,  # the cheaper of its two forms in Postgres CPU
                )
            searches.append([s for s in sent if "<=>" in s[0] or "ts_match_vq" in s[0]])
        intake = MessageIntake(embedder=lambda: embedder, settings=settings, fine=False)
        inserts: list[list[Statement]] = []
        windows: list[list[str]] = []
        # The memory rows an add writes (the service sends them with their history rows, one
        # statement per row: storage.repositories.added_rows); the floor sends the rows alone.
        written: list[Sequence[Mapping[str, Any]]] = []

        async def recorded(session: Any, rows: Sequence[Mapping[str, Any]]) -> None:
            written.append(rows)
            await insert_memories(session, rows)

        ingest.insert_memories = recorded  # type: ignore[assignment]
        for i, conversation in enumerate(adds):
            request = AddMessages(
                user_id=f"bench-floor-{i}",
                conversation_id=f"floor-{uuid.uuid4().hex[:8]}",
                messages=[IncomingMessage(m["role"], m["content"]) for m in conversation],
            )
            windows.append(intake.texts(intake.prepare(request, embedder)))
            written.clear()
            async with database.session() as session:
                await intake.add(session, project_id=project, request=request)
                await session.rollback()
            if not any(written):
                raise SystemExit(f"the floor's add {i} made no memory")
            bare = driver_statement(memory_rows_insert(tuple(written[0][0])))
            inserts.append(
                [(bare.sql, [bare.arguments(row) for rows in written for row in rows], True)]
            )
        plain = plain_dsn(database.engine.url.render_as_string(False))
    except BaseException:
        await embedder.aclose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
        raise
    finally:
        ingest.insert_memories = insert_memories  # type: ignore[assignment]
        await database.dispose()
    return Probe(
        embedder.name, plain, embedder, [q for _, q in asked], windows, searches, inserts, embedded
    )


async def time_floor(probe: Probe, phases: tuple[str, ...] = ("search", "add")) -> dict[str, Any]:
    """The floor of each phase named, timed now: the model on the samples' texts, then their
    statements on a fresh plain connection (a warm-up pass, then a measured one)."""
    import asyncpg

    from memos_server.embedding import TextKind

    async def embedding_cpu(texts: list[list[str]], kind: TextKind) -> float:
        for batch in texts[:3]:
            await probe.embedder.embed(batch, kind)  # warm
        before = process_cpu()
        for batch in texts:
            await probe.embedder.embed(batch, kind)
        return process_cpu() - before

    def per(seconds: float) -> float:
        return round(seconds * 1000 / probe.samples, 2)

    timed: dict[str, Any] = {}
    connection = await asyncpg.connect(probe.url)
    try:
        if "search" in phases:
            cpu = await embedding_cpu([[q] for q in probe.queries], TextKind.QUERY)
            driver, backend = await _measure(connection, probe.searches, rollback=False)
            timed["search"] = Floor(probe.samples, per(cpu), per(driver), per(backend)).report()
        if "add" in phases:
            cpu = await embedding_cpu(probe.windows, TextKind.PASSAGE)
            driver, backend = await _measure(connection, probe.inserts, rollback=True)
            timed["add"] = Floor(probe.samples, per(cpu), per(driver), per(backend)).report()
    finally:
        await connection.close()
    return timed


async def close(probe: Probe) -> None:
    await probe.embedder.aclose()
    if probe.embedded is not None:
        await asyncio.to_thread(probe.embedded.stop)


def described(probe: Probe) -> dict[str, Any]:
    """What the floor is made of: the model and the statements of the first sample."""
    return {
        "model": probe.model,
        "search_statements": [s[0] for s in probe.searches[0]],
        "add_statements": [s[0][:120] for s in probe.inserts[0]],
    }
