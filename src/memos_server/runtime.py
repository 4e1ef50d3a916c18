"""The expensive things a process holds: the database (embedded or not) and the embedding model.

``open_runtime`` builds them in order (Postgres and the model load side by side), migrates the
schema, ties the database to the model, and releases everything on exit. The app's lifespan and
the CLI both use it. The request services (``RequestServices``) are built once, with the
runtime, from what it holds; routes get them as dependencies (``api.deps``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from memos_server.embedding import Embedder, load_embedder
from memos_server.errors import EmbeddingModelRetired
from memos_server.llm import LLM
from memos_server.llm.factory import build_llm
from memos_server.rerank import Reranker, load_reranker
from memos_server.services.chat import ChatService
from memos_server.services.embedding_binding import bind_embedding_model
from memos_server.services.failed_keys import FailedKeyThrottle, failed_key_throttle_for
from memos_server.services.feedback_intake import FeedbackIntake
from memos_server.services.fine.feedback import FeedbackApplier
from memos_server.services.fine.refine import Refiner
from memos_server.services.ingest import MessageIntake
from memos_server.services.jobs.handlers import JobHandler
from memos_server.services.jobs.worker import Worker
from memos_server.services.key_cache import KeyCache
from memos_server.services.knowledge.bases import KnowledgeService
from memos_server.services.knowledge.ingest import KnowledgeIngester
from memos_server.services.memory_admin import MemoryAdmin
from memos_server.services.profiles.instances import ProfileService
from memos_server.services.profiles.templates import TemplateService
from memos_server.services.rate_limit import (
    InputTokenLimiter,
    RateLimiter,
    input_token_limiter_for,
    rate_limiter_for,
)
from memos_server.services.reindex import watch_binding
from memos_server.services.reindex_runs import ReindexRun, ReindexStatus, start_run, status_of
from memos_server.services.retention import run_sweep_loop
from memos_server.services.search.service import SearchService
from memos_server.services.search.vector_indexes import IndexCatalog, run_sync_loop
from memos_server.settings import Settings
from memos_server.storage import notifications
from memos_server.storage.database import Database
from memos_server.storage.embedded import EmbeddedPostgres
from memos_server.storage.migrations import upgrade_database
from memos_server.storage.postgres_memory import memory_settings
from memos_server.storage.replicas import ReadReplicas, ReadRouter, RecentWrites, replicas_of
from memos_server.storage.vocabulary import JobKind
from memos_server.text.tokens import warm_up

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestServices:
    """What routes call, built once per process (keyword-only arguments, no parade of parts)."""

    messages: MessageIntake  # add/message
    feedback: FeedbackIntake  # add/feedback
    search: SearchService  # search/memory, and chat's recall
    chat: ChatService
    memories: MemoryAdmin  # get/memory, update/memory, delete/memory
    knowledge: KnowledgeService  # knowledge bases and their documents
    profile_templates: TemplateService  # add/list/get/update/delete profile_template
    profiles: ProfileService  # bind/profile_template, edit/profile, delete/profile


@dataclass
class Runtime:
    settings: Settings
    database: Database
    embedder: Embedder | None
    embedded: EmbeddedPostgres | None
    llm: LLM | None = None  # None: fast mode
    worker: Worker | None = None  # a worker in this process, if it runs one
    reranker: Reranker | None = None
    indexes: IndexCatalog | None = None  # per-user HNSW indexes, when switched on
    index_sync: asyncio.Task[None] | None = None
    retention_sweep: asyncio.Task[None] | None = None  # purges expired memories
    rate_limiter: RateLimiter | None = None  # per API key; None: no limit
    input_tokens: InputTokenLimiter | None = None  # per API key; None: no limit
    failed_keys: FailedKeyThrottle | None = None  # per client address; None: no limit
    # Set once a reindex bound the database to another model: what every request answers then.
    retired: str | None = None
    binding_watch: asyncio.Task[None] | None = None
    worker_stop: asyncio.Task[None] | None = None
    reindex: ReindexRun | None = None  # one started by the admin API in this process
    replicas: ReadReplicas | None = None  # database.read_urls, if any
    replica_checks: asyncio.Task[None] | None = None
    keys: KeyCache = field(init=False)  # trusted only while the listener listens
    listener: asyncio.Task[None] | None = None
    services: RequestServices = field(init=False)
    reads: ReadRouter = field(init=False)  # where a read-only request's session goes

    def __post_init__(self) -> None:
        # The embedder is asked for at each request (``require_embedder``): it refuses once a
        # reindex retired it. Fine mode is decided here, once, for every service.
        embedder, settings, fine = self.require_embedder, self.settings, self.fine_mode
        recent = RecentWrites(settings.database.read_your_writes_s)
        self.reads = ReadRouter(self.database, self.replicas, recent)
        self.keys = KeyCache(ttl_s=settings.database.key_cache_s)
        messages = MessageIntake(embedder=embedder, settings=settings, fine=fine)
        search = SearchService(
            embedder=embedder,
            settings=settings,
            reranker=self.reranker,
            indexes=self.indexes,
        )
        templates = TemplateService(settings)
        self.services = RequestServices(
            messages=messages,
            feedback=FeedbackIntake(embedder=embedder, settings=settings, fine=fine),
            search=search,
            chat=ChatService(settings=settings, llm=self.llm, search=search, messages=messages),
            memories=MemoryAdmin(embedder=embedder, settings=settings),
            knowledge=KnowledgeService(settings),
            profile_templates=templates,
            profiles=ProfileService(settings, templates),
        )

    @property
    def fine_mode(self) -> bool:
        """Fine mode (extraction, feedback applied by the model, chat) is on when an LLM is
        configured: the one place that says so."""
        return self.llm is not None

    def job_handlers(self) -> dict[str, JobHandler]:
        """What a worker runs, by job kind: knowledge-base documents always; with an LLM, fine
        extraction of adds and feedback."""
        embedder = self.require_embedder()
        handlers: dict[str, JobHandler] = {
            JobKind.KNOWLEDGE: KnowledgeIngester(self.database, embedder, self.settings)
        }
        if self.llm is not None:
            parts = (self.database, embedder, self.llm, self.settings)
            handlers[JobKind.REFINE] = Refiner(*parts)
            handlers[JobKind.FEEDBACK] = FeedbackApplier(*parts)
        return handlers

    def start_worker(self) -> Worker:
        self.worker = Worker(self.database, self.job_handlers(), self.settings.jobs)
        self.worker.start()
        return self.worker

    def start_replica_checks(self) -> None:
        """Check the read replicas (if any) now and then: reads go to those that are up."""
        if self.replicas is not None:
            self.replica_checks = asyncio.create_task(self.replicas.run())

    def start_listener(self, *, keys: bool = True) -> None:
        """Hear what other processes change (``storage.notifications``): API keys, so that this
        process can keep those checked lately (``services.key_cache``; ``keys`` and
        ``database.key_cache_s`` > 0), and queued jobs, for the worker (if it runs)."""
        channels: dict[str, Callable[[], None]] = {}
        hearing: list[Callable[[bool], None]] = []
        if keys and self.settings.database.key_cache_s > 0:
            channels[notifications.KEYS] = self.keys.changed
            hearing.append(self.keys.listening)
        if self.worker is not None:
            channels[notifications.JOBS] = self.worker.wake
            hearing.append(self.worker.listening)
        if not channels:
            return

        def listening(on: bool) -> None:
            for each in hearing:
                each(on)

        self.listener = asyncio.create_task(
            notifications.listen(self.database, channels, listening)
        )

    def start_index_sync(self) -> None:
        """Keep per-user HNSW indexes in step with users' sizes (if switched on)."""
        if self.indexes is not None and self.indexes.enabled:
            self.index_sync = asyncio.create_task(
                run_sync_loop(self.database, self.settings.search, self.indexes)
            )

    def start_retention_sweep(self) -> None:
        """Purge expired memories every ``retention.sweep_interval_s`` (if switched on)."""
        if self.settings.retention.run_sweep:
            self.retention_sweep = asyncio.create_task(
                run_sweep_loop(self.database, self.settings.retention)
            )

    def require_embedder(self) -> Embedder:
        assert self.embedder is not None, "runtime opened without an embedder"
        if self.retired is not None:
            raise EmbeddingModelRetired(self.retired)
        return self.embedder

    def retire_model(self, bound: str | None) -> None:
        """The database is bound to another model now (``bound``, if known): answer 503 with
        what to do, and run no more jobs, until restarted with that model."""
        if self.retired is not None or self.embedder is None:
            return
        now = f"the embedding model {bound}" if bound else "another embedding model"
        self.retired = (
            f"a reindex bound this database to {now}; this service still holds "
            f"{self.embedder.name}: restart it with MEMOS_EMBEDDING__MODEL set to the new model"
        )
        log.error("%s", self.retired)
        if self.index_sync is not None:
            # It would build indexes for this process's vector size, maybe not the new one.
            self.index_sync.cancel()
        if self.worker is not None:
            # Its jobs would be refused by the database now (and use up their attempts).
            self.worker_stop = asyncio.get_running_loop().create_task(self.worker.stop())

    async def start_reindex(self, model: str) -> None:
        """Start a reindex to ``model`` in the background, unless one runs in this process."""
        if self.reindex is not None and not self.reindex.task.done():
            return
        if self.reindex is not None:
            await self.reindex.close()
            self.reindex = None

        def finished(name: str) -> None:
            if self.embedder is not None and name != self.embedder.name:
                self.retire_model(name)

        self.reindex = await start_run(self.settings, self.database, model, finished)

    async def reindex_status(self) -> ReindexStatus:
        return await status_of(self.reindex, self.database)

    def start_binding_watch(self) -> None:
        """Notice a reindex elsewhere binding the database to another model."""
        if self.embedder is not None:
            self.binding_watch = asyncio.create_task(
                watch_binding(self.database, self.embedder.name, self.retire_model)
            )


async def _database_url(settings: Settings, embedded: EmbeddedPostgres | None) -> str:
    if embedded is None:
        assert settings.database.url is not None
        return settings.database.url.get_secret_value()
    return await asyncio.to_thread(embedded.start)


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, with_embedder: bool = True, bind: bool = True
) -> AsyncIterator[Runtime]:
    """``bind`` False: load the model without tying the database to it (``reindex`` does that
    itself, at its end)."""
    # Made before it starts, so the finally below stops it even if the start is cut short (an
    # error elsewhere, a signal): stop() waits for a start in progress.
    embedded = (
        EmbeddedPostgres(settings.data_dir, memory_settings(settings.postgres))
        if settings.database.url is None
        else None
    )
    database_task = asyncio.create_task(_database_url(settings, embedded))
    embedder_task = (
        asyncio.create_task(load_embedder(settings.embedding, settings.model_cache_dir))
        if with_embedder
        else None
    )
    # The Chinese segmenter's dictionary loads in about a second: alongside, not on a request.
    segmenter_task = asyncio.create_task(asyncio.to_thread(warm_up)) if with_embedder else None
    embedder: Embedder | None = None
    database: Database | None = None
    llm: LLM | None = None
    try:
        llm = build_llm(settings.llm) if with_embedder else None
        url = await database_task
        await asyncio.to_thread(upgrade_database, url)
        if segmenter_task is not None:
            await segmenter_task
        if embedder_task is not None:
            embedder = await embedder_task
        database = Database(
            url, settings.database, embedding_model=embedder.name if embedder else None
        )
        if embedder is not None:
            if bind:
                async with database.session() as session:
                    await bind_embedding_model(session, embedder)
                    await session.commit()
            log.info("embedding model %s (%d dimensions)", embedder.name, embedder.dimension)
        if llm is not None:
            log.info("fine mode: LLM %s at %s", llm.name, settings.llm.base_url)
        else:
            log.info("fast mode: no LLM configured (MEMOS_LLM__BASE_URL, MEMOS_LLM__MODEL)")
        reranker = await load_reranker(settings.search) if with_embedder else None
        runtime = Runtime(
            settings=settings,
            database=database,
            embedder=embedder,
            embedded=embedded,
            llm=llm,
            reranker=reranker,
            indexes=(
                IndexCatalog(
                    settings.search, embedder.dimension, settings.knowledge.hnsw_min_passages
                )
                if embedder
                else None
            ),
            replicas=replicas_of(database, settings.database, embedder.name if embedder else None),
            rate_limiter=rate_limiter_for(settings),
            input_tokens=input_token_limiter_for(settings),
            failed_keys=failed_key_throttle_for(settings),
        )
        try:
            yield runtime
        finally:
            if runtime.binding_watch is not None:
                runtime.binding_watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runtime.binding_watch
            if runtime.reindex is not None:
                await runtime.reindex.close()
            loops = runtime.index_sync, runtime.retention_sweep, runtime.replica_checks
            for loop in (*loops, runtime.listener):
                if loop is not None:
                    loop.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await loop
            if runtime.worker_stop is not None:
                await runtime.worker_stop
            elif runtime.worker is not None:
                await runtime.worker.stop()
            if runtime.reranker is not None:
                await runtime.reranker.aclose()
            if runtime.replicas is not None:
                await runtime.replicas.dispose()
    finally:
        if embedder_task is not None and not embedder_task.done():
            embedder_task.cancel()
        if not database_task.done():
            database_task.cancel()
        if embedder is not None:
            await embedder.aclose()
        if llm is not None:
            await llm.aclose()
        if database is not None:
            await database.dispose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
