"""The ``knowledge`` job: a knowledge-base document parsed, cut into passages, embedded, stored.

Parsing and tokenising run in a thread, embedding in the model's own; no connection is held
meanwhile. The passages, the document's ``completed`` status and the job's end are written in one
transaction, so search sees all of a document or none of it. A document that cannot be read
(corrupt, encrypted, no text, over a limit), or a URL that may not or could not be fetched
(``fetch.py``: the fetch runs here, not in the request), fails for good, at once: the reason
goes to the file (``get/knowledgebase-file``) and its task (``get/status``), and no passage is
written. A document deleted while its job ran is simply dropped.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.embedding import Embedder
from memos_server.llm.json_output import Usage
from memos_server.services.jobs.handlers import complete_job, hold_job, mark_task
from memos_server.services.knowledge.documents import (
    DocumentError,
    DocumentType,
    Limits,
    detect_type,
    extract,
)
from memos_server.services.knowledge.fetch import FetchError, UrlFetcher
from memos_server.services.knowledge.indexes import sync_base_indexes
from memos_server.services.knowledge.passages import Passage, split_passages
from memos_server.settings import Settings
from memos_server.storage.database import Database, unavailable
from memos_server.storage.models import KnowledgeFile, KnowledgePassage, Task
from memos_server.storage.repositories.jobs import JobRepository
from memos_server.storage.repositories.knowledge import KnowledgeRepository
from memos_server.storage.vocabulary import FileStatus, JobStatus, TaskStatus
from memos_server.text.tokens import memory_tokens

log = logging.getLogger(__name__)

EMBED_BATCH = 64  # passages per call to the model: other requests' embeddings get turns between
# A docx may unpack to this many times its size before it is taken for a zip bomb (text
# compresses about 4 to 10 times; Word's XML around it, a little more), and never past
# MAX_UNPACKED_BYTES, whatever its size.
UNPACK_RATIO = 40
MAX_UNPACKED_BYTES = 64_000_000
# After a document, a base-index sync that found another running tries again after these pauses.
SYNC_RETRY_PAUSES_S = (0.5, 1.0, 2.0, 4.0)


class KnowledgeIngester:
    what = "document processing"
    kept = ""

    def __init__(self, database: Database, embedder: Embedder, settings: Settings) -> None:
        self.database = database
        self.embedder = embedder
        self.settings = settings
        self.fetcher = UrlFetcher(settings.knowledge)

    async def run(self, task_id: uuid.UUID, job_id: int, worker: str) -> Task:
        async with self.database.session() as session:
            file = await KnowledgeRepository(session).file_of_task(task_id)
        if file is None or (file.content is None and file.source_url is None):
            return await self._dropped(task_id, job_id, worker)
        content, kind = file.content, DocumentType(file.type) if file.type else None
        if content is None:
            # Named by URL: fetched here, in the job, holding no connection (fetch.py's checks).
            try:
                content, kind = await self._fetch(file)
            except FetchError as error:
                return await self._failed(file, job_id, worker, str(error))
        assert kind is not None
        try:
            passages = await asyncio.to_thread(self._passages, content, kind)
        except DocumentError as error:
            return await self._failed(file, job_id, worker, str(error))
        vectors: list[list[float]] = []
        for start in range(0, len(passages), EMBED_BATCH):
            batch = passages[start : start + EMBED_BATCH]
            vectors.extend(await self.embedder.embed([p.indexed_text for p in batch]))
        tokens = await asyncio.to_thread(
            lambda: [memory_tokens(p.heading, p.text) or " " for p in passages]
        )
        rows = [
            KnowledgePassage(
                id=uuid.uuid4(),
                project_id=file.project_id,
                knowledgebase_id=file.knowledgebase_id,
                file_id=file.id,
                position=p.position,
                page=p.page,
                heading=p.heading,
                text=p.text,
                embedding=vector,
                search_text=text,
            )
            for p, vector, text in zip(passages, vectors, tokens, strict=True)
        ]
        async with self.database.session() as session:
            await hold_job(session, job_id, worker)
            knowledge = KnowledgeRepository(session)
            if await knowledge.file_of_task(task_id, lock=True) is None:
                await session.rollback()
                return await self._dropped(task_id, job_id, worker)
            await knowledge.replace_passages(file.id, rows)
            await knowledge.finish_file(
                file.id,
                status=FileStatus.COMPLETED,
                error=None,
                passages=len(rows),
                size_bytes=len(content),
                type=kind,
            )
            finished = await complete_job(session, task_id, job_id, Usage())
            await session.commit()
        log.info("knowledge file %s: %d passages", file.id, len(rows))
        await self._index()
        return finished

    async def _index(self) -> None:
        """Give the base its own index if it has grown past ``knowledge.hnsw_min_passages``
        (the document is searchable meanwhile, by an exact scan); a failure only delays that."""
        try:
            for pause in (*SYNC_RETRY_PAUSES_S, None):
                report = await sync_base_indexes(
                    self.database, self.settings, self.embedder.dimension
                )
                # Skipped: another sync runs, which may have counted the bases' passages before
                # this document's were committed. Try again once it is likely done.
                if not report.skipped or pause is None:
                    return
                await asyncio.sleep(pause)
        except Exception as error:
            if not unavailable(error):
                log.exception("knowledge base indexes: sync failed; the next document tries again")

    async def _fetch(self, file: KnowledgeFile) -> tuple[bytes, DocumentType]:
        """The document a URL names, with its type (the URL's name, else its first bytes)."""
        assert file.source_url is not None
        fetched = await self.fetcher.fetch(file.source_url)
        kind = detect_type(fetched.name, fetched.content)
        if kind is None:
            raise FetchError(
                "the URL's document is of an unsupported type; txt, md, html, xml, json, pdf "
                "or docx are read"
            )
        return fetched.content, kind

    def _passages(self, content: bytes, kind: DocumentType) -> list[Passage]:
        limits = self.settings.knowledge
        blocks = extract(
            content,
            kind,
            Limits(
                max_pages=limits.max_pages,
                max_text_chars=limits.max_text_chars,
                max_unpacked_bytes=min(
                    max(len(content) * UNPACK_RATIO, 10_000_000), MAX_UNPACKED_BYTES
                ),
            ),
        )
        passages = split_passages(blocks, limits.passage_chars)
        if len(passages) > limits.max_passages_per_file:
            raise DocumentError(
                f"the document makes {len(passages):,} passages, more than "
                f"{limits.max_passages_per_file:,} (MEMOS_KNOWLEDGE__MAX_PASSAGES_PER_FILE)"
            )
        return passages

    async def _failed(self, file: KnowledgeFile, job_id: int, worker: str, reason: str) -> Task:
        async with self.database.session() as session:
            await hold_job(session, job_id, worker)
            await _fail_file(session, file.task_id, reason)
            await JobRepository(session).finish(job_id, JobStatus.FAILED, reason)
            failed = await mark_task(
                session, file.task_id, TaskStatus.FAILED, Usage(), f"{self.what} failed ({reason})"
            )
            await session.commit()
        log.warning("knowledge file %s failed: %s", file.id, reason)
        return failed

    async def gave_up(self, session: AsyncSession, task_id: uuid.UUID, reason: str) -> None:
        """The document's status follows its task's: failed, with the reason, no passages."""
        await _fail_file(session, task_id, f"{self.what} failed ({reason})")

    async def _dropped(self, task_id: uuid.UUID, job_id: int, worker: str) -> Task:
        """The document was deleted before its passages were stored: nothing to do."""
        async with self.database.session() as session:
            await hold_job(session, job_id, worker)
            finished = await complete_job(session, task_id, job_id, Usage())
            await session.commit()
        return finished


async def _fail_file(session: AsyncSession, task_id: uuid.UUID, reason: str) -> None:
    """The task's document, if it is still there: failed with ``reason``, no passage left."""
    knowledge = KnowledgeRepository(session)
    file = await knowledge.file_of_task(task_id, lock=True)
    if file is not None:
        await knowledge.replace_passages(file.id, [])
        await knowledge.finish_file(file.id, status=FileStatus.FAILED, error=reason, passages=0)
