"""Re-embed every memory and knowledge-base passage with another model on a live database, then
bind it to that model.

Only a process that holds the *new* model does the work: ``memos-server reindex`` run with the
new ``MEMOS_EMBEDDING__MODEL``, or the running service when an operator asks the admin API for
a reindex to a named model (it then loads that model beside its own). Meanwhile the service
keeps its old model and keeps answering from the old vectors: a query can only be compared with
vectors of its own model, and one model per service is the simplest state to reason about.

1. The target model is recorded in ``service_meta`` (``reindex_model``); a reindex to another
   target forgets the new vectors made so far.
2. Every memory gets the new model's vector in ``memories.embedding_next`` (and every passage in
   ``knowledge_passages.embedding_next``, embedded from its heading and text as the document
   job embeds it), a batch per
   transaction, so a crash loses one batch at most and the next run continues where this one
   stopped (rows with a new vector are never embedded again). Sweeps repeat until one finds
   nothing: memories added meanwhile, and memories whose text changed (the trigger of migration
   0009 clears their new vector), are embedded by a later sweep.
3. The swap, one transaction: writes to ``memories`` wait (searches go on reading the old
   vectors), the last memories and passages written are embedded, ``embedding_next`` becomes
   ``embedding`` in both tables, and ``service_meta`` names the new model and size. The
   per-user and per-base HNSW indexes, built on the old vectors, are dropped just before
   (searches fall back to the exact scan; the index syncs of a service on the new model build
   them again). When the size changes, the size check is
   replaced in the same transaction, and searches wait for it too.

After the swap a process still holding the old model must not write: every process tells
Postgres its model on each connection, and the database refuses a vector from a connection whose
model is not the bound one (SQLSTATE ME001). The service that ran the reindex stops answering
with a clear 503 and asks to be restarted with the new model (``Runtime.retire_model``); any
other process notices within ``WATCH_INTERVAL_S`` (``watch_binding``). So the procedure is: keep
the service running on the old model, run the reindex with the new one, restart the service
with the new model (see docs/configuration.md, "Changing the embedding model").
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from memos_server.embedding import Embedder
from memos_server.errors import ConfigurationError
from memos_server.metrics import ReindexState
from memos_server.services.embedding_binding import DIMENSION_KEY, MODEL_KEY, TARGET_KEY
from memos_server.services.knowledge.indexes import SYNC_LOCK as BASE_SYNC_LOCK
from memos_server.services.knowledge.passages import Passage
from memos_server.services.search.vector_indexes import SYNC_LOCK
from memos_server.storage.database import Database
from memos_server.storage.repositories.knowledge_indexes import (
    KnowledgeIndexRepository,
    drop_base_index,
)
from memos_server.storage.repositories.meta import MetaRepository
from memos_server.storage.repositories.reindex import Pending, PendingPassage, ReindexRepository
from memos_server.storage.repositories.vector_indexes import (
    VectorIndexRepository,
    drop_index,
    without_statement_timeout,
)

log = logging.getLogger(__name__)

TARGET_DIMENSION_KEY = "reindex_dimension"
REINDEX_LOCK = 0x6D656D6F5F726978  # pg advisory lock key: one reindex at a time
BATCH_SIZE = 32


class ReindexElsewhere(ConfigurationError):
    """Another process is reindexing this database now."""


class Phase(StrEnum):
    EMBEDDING = "embedding"  # filling embedding_next
    SWAPPING = "swapping"  # the swap transaction
    DONE = "done"  # the database is bound to the new model
    FAILED = "failed"


@dataclass
class Progress:
    """Where a reindex stands: memories (and passages) with the new model's vector, of all."""

    model: str
    done: int = 0
    total: int = 0
    embedded: int = 0  # by this run (a resumed run does not count what an earlier one did)
    passages_done: int = 0
    passages_total: int = 0
    passages_embedded: int = 0  # by this run
    phase: Phase = Phase.EMBEDDING
    error: str | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        """Memories and passages embedded per second by this run."""
        made = self.embedded + self.passages_embedded
        return made / max(time.monotonic() - self.started, 1e-6)


async def pending_target(database: Database) -> tuple[str | None, int, int]:
    """The model a reindex is under way to (None: none is), and its memories done and total."""
    state = await pending_state(database)
    return (state.model, state.done, state.total) if state is not None else (None, 0, 0)


async def pending_state(database: Database) -> ReindexState | None:
    """The reindex under way (None: none is): its model, memories and passages done and total."""
    async with database.session() as session:
        target = await MetaRepository(session).get(TARGET_KEY)
        if target is None:
            return None
        done, total = await ReindexRepository(session).counts()
        passages_done, passages_total = await ReindexRepository(session).passage_counts()
    return ReindexState(target, done, total, passages_done, passages_total)


async def read_reindex(
    database: Database, timeout_s: float
) -> ReindexState | Literal[False] | None:
    """For ``/metrics``: the reindex under way (whichever process runs it: the numbers are the
    database's), None if none is, False if the database did not answer in time."""
    try:
        async with asyncio.timeout(timeout_s):
            return await pending_state(database)
    except Exception as exc:  # TimeoutError included
        log.warning("reindex progress unreadable for /metrics: %s", type(exc).__name__)
        return False


class Reindexer:
    """One reindex of one database to ``embedder``'s model; ``progress`` is readable meanwhile."""

    def __init__(
        self,
        database: Database,
        embedder: Embedder,
        *,
        batch_size: int = BATCH_SIZE,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.database = database
        self.embedder = embedder
        self.batch_size = batch_size
        self.on_progress = on_progress
        self.progress = Progress(embedder.name)

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress)

    async def run(self) -> Progress:
        """Re-embed, swap, bind. Raises ``ReindexElsewhere`` if another process reindexes."""
        async with self.database.engine.connect() as raw:
            guard = await raw.execution_options(isolation_level="AUTOCOMMIT")
            locked = await guard.scalar(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": REINDEX_LOCK}
            )
            if not locked:
                raise ReindexElsewhere("another process is reindexing this database now")
            try:
                await self._run(guard)
            except BaseException as error:
                self.progress.phase = Phase.FAILED
                self.progress.error = str(error) or type(error).__name__
                raise
            finally:
                await guard.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": REINDEX_LOCK})
        return self.progress

    async def _run(self, guard: AsyncConnection) -> None:
        name, dimension = self.embedder.name, self.embedder.dimension
        async with self.database.session() as session:
            meta, memories = MetaRepository(session), ReindexRepository(session)
            bound = await meta.get(MODEL_KEY)
            target = await meta.get(TARGET_KEY)
            if bound is None or bound == name:
                # Nothing to re-embed: a new database (bound to this model now), or one bound
                # to it already (a reindex to another model begun since is abandoned).
                if target is not None:
                    await memories.forget()
                    await meta.remove(TARGET_KEY, TARGET_DIMENSION_KEY)
                if bound is None:
                    await meta.fix_embedding_dimension(dimension)
                    await meta.put(DIMENSION_KEY, str(dimension))
                    await meta.put(MODEL_KEY, name)
                _, total = await memories.counts()
                _, passages = await memories.passage_counts()
                await session.commit()
                self.progress.done = self.progress.total = total
                self.progress.passages_done = self.progress.passages_total = passages
                self.progress.phase = Phase.DONE
                self._report()
                return
            if target != name:
                if target is not None:
                    log.info("reindex: forgetting the vectors made for %s", target)
                    await memories.forget()
                await meta.put(TARGET_KEY, name)
                await meta.put(TARGET_DIMENSION_KEY, str(dimension))
            self.progress.done, self.progress.total = await memories.counts()
            progress = self.progress
            progress.passages_done, progress.passages_total = await memories.passage_counts()
            await session.commit()
        log.info(
            "reindex from %s to %s: %d of %d memories, %d of %d passages done before",
            bound,
            name,
            self.progress.done,
            self.progress.total,
            self.progress.passages_done,
            self.progress.passages_total,
        )
        self._report()
        await self._fill()
        self.progress.phase = Phase.SWAPPING
        self._report()
        await self._swap(guard, bound)
        self.progress.phase = Phase.DONE
        self._report()
        log.info("reindex done: the database is bound to %s", name)

    async def _fill(self) -> None:
        """Sweep until a sweep finds no memory and no passage without a new vector."""
        while await self._fill_memories() + await self._fill_passages():
            pass

    async def _fill_memories(self) -> int:
        """One sweep of the memories: how many it found without a new vector."""
        after: uuid.UUID | None = None
        found = 0
        while True:
            async with self.database.session() as session:
                rows = await ReindexRepository(session).pending(after, self.batch_size)
            if not rows:
                break
            found += len(rows)
            # The model works with no connection held.
            stored = await self._embed_and_store(rows)
            self.progress.embedded += stored
            self.progress.done += stored
            after = rows[-1].id
            self._report()
        async with self.database.session() as session:
            self.progress.done, self.progress.total = await ReindexRepository(session).counts()
        self._report()
        return found

    async def _fill_passages(self) -> int:
        """One sweep of the passages: how many it found without a new vector."""
        after: uuid.UUID | None = None
        found = 0
        while True:
            async with self.database.session() as session:
                rows = await ReindexRepository(session).pending_passages(after, self.batch_size)
            if not rows:
                break
            found += len(rows)
            vectors = await self._embed_passages(rows)  # no connection held
            async with self.database.session() as session:
                stored = await ReindexRepository(session).store_passages(rows, vectors)
                await session.commit()
            self.progress.passages_embedded += stored
            self.progress.passages_done += stored
            after = rows[-1].id
            self._report()
        async with self.database.session() as session:
            counted = await ReindexRepository(session).passage_counts()
        self.progress.passages_done, self.progress.passages_total = counted
        self._report()
        return found

    async def _embed_passages(self, rows: list[PendingPassage]) -> list[list[float]]:
        # The text the document job embeds (``Passage.indexed_text``): heading, then text.
        return await self.embedder.embed(
            [Passage(0, row.heading, row.text, None).indexed_text for row in rows]
        )

    async def _embed_and_store(self, rows: list[Pending]) -> int:
        vectors = await self.embedder.embed([row.text for row in rows])
        async with self.database.session() as session:
            stored = await ReindexRepository(session).store(rows, vectors)
            await session.commit()
        return stored

    async def _swap(self, guard: AsyncConnection, bound: str) -> None:
        name, dimension = self.embedder.name, self.embedder.dimension
        async with without_statement_timeout(guard):
            # Holding the sync lock: no index is built on the old vectors meanwhile.
            await guard.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SYNC_LOCK})
            try:
                await guard.execute(text("SELECT pg_advisory_lock(:k)"), {"k": BASE_SYNC_LOCK})
                async with self.database.session() as session:
                    names = await VectorIndexRepository(session).all_names()
                    bases = await KnowledgeIndexRepository(session).indexed_bases(valid=False)
                for index in sorted(names):
                    await drop_index(guard, index)
                for base in sorted(bases):
                    await drop_base_index(guard, base)
                async with self.database.session() as session:
                    meta, memories = MetaRepository(session), ReindexRepository(session)
                    await memories.lock_writes()
                    # Under the lock, so nothing new can appear: the last few memories.
                    while rows := await memories.pending(None, self.batch_size):
                        vectors = await self.embedder.embed([row.text for row in rows])
                        stored = await memories.store(rows, vectors)
                        self.progress.embedded += stored
                        self.progress.done += stored
                    while passages := await memories.pending_passages(None, self.batch_size):
                        made = await self._embed_passages(passages)
                        stored = await memories.store_passages(passages, made)
                        self.progress.passages_embedded += stored
                        self.progress.passages_done += stored
                    old_dimension = int(await meta.get(DIMENSION_KEY) or dimension)
                    if old_dimension != dimension:
                        await memories.drop_dimension_check()
                    # The binding first: the trigger lets this connection (which says it holds
                    # the new model) write vectors only once the database is bound to it.
                    await meta.put(MODEL_KEY, name)
                    await meta.put(DIMENSION_KEY, str(dimension))
                    await meta.remove(TARGET_KEY, TARGET_DIMENSION_KEY)
                    swapped, swapped_passages = await memories.swap()
                    if old_dimension != dimension:
                        await meta.fix_embedding_dimension(dimension)
                    await session.commit()
            finally:
                await guard.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": BASE_SYNC_LOCK})
                await guard.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SYNC_LOCK})
        self.progress.done = self.progress.total = swapped
        self.progress.passages_done = self.progress.passages_total = swapped_passages
        log.info(
            "reindex: swapped %d memories and %d passages from %s to %s",
            swapped,
            swapped_passages,
            bound,
            name,
        )


WATCH_INTERVAL_S = 5.0


async def watch_binding(database: Database, mine: str, retire: Callable[[str], None]) -> None:
    """Every ``WATCH_INTERVAL_S``: if the database is now bound to another model than ``mine``
    (a reindex elsewhere swapped it), call ``retire`` with that model's name, once."""
    while True:
        await asyncio.sleep(WATCH_INTERVAL_S)
        try:
            async with database.session() as session:
                bound = await MetaRepository(session).get(MODEL_KEY)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # The database away: the requests say so; look again later.
            log.debug("binding watch: %s", type(error).__name__)
            continue
        if bound is not None and bound != mine:
            retire(bound)
            return
