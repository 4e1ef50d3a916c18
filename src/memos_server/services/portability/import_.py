"""``memos-server import`` and ``POST /admin/v1/projects/{name}/import``: an export read back.

**One transaction.** The importer never commits (the CLI or the route does, once it returns): an
import lands whole or not at all, so a malformed line, an unknown version or a database error
anywhere leaves nothing of the file behind, and running it again after a fix does all of it.
Records are read and written in batches of ``BATCH`` (no more than one batch is held in memory);
the project's message counter stays locked until the end, so adds to that project wait.

**Idempotent.** Every exported record keeps a stable identity here, so a second import of the
same file finds each record already stored and adds nothing:

- memories, tasks, knowledge bases, files and passages keep their exported id when it is free in
  this database; when another project holds that id, they get ``uuid5(project id, exported id)``
  instead. Either way the id depends only on the exported id and the project, and a record
  whose id (or derived id) is already in the project is skipped;
- messages keep their number (their ``message_id``) in a project that had no messages; in one
  that had, they are numbered after its last, once: ``import_sources`` remembers where each
  exported project's numbering starts, so the next import finds the same numbers;
- history rows come and go with their memory; feedback with its task.

**Vectors.** Carried when the file has them and they were made by this instance's model (same
name and dimension); else every memory and passage is embedded again with this model, a batch at
a time.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.embedding import Embedder
from memos_server.errors import BadRequest, EmbeddingModelRetired
from memos_server.services.embedding_binding import MODEL_KEY
from memos_server.services.memory_writer import MemoryText
from memos_server.services.portability import rows
from memos_server.services.portability.format import (
    ORDERS,
    DeletedHistoryRecord,
    FeedbackRecord,
    FormatError,
    Header,
    MemoryRecord,
    MessageRecord,
    Record,
    TaskRecord,
    read_header,
    read_record,
)
from memos_server.services.portability.profile_steps import ProfileSteps
from memos_server.services.portability.rows import message_digest
from memos_server.services.portability.steps import (
    BATCH,
    ImportResult,
    Numbered,
    OnProgress,
    refused,
)
from memos_server.storage.models import (
    KnowledgeBase,
    Memory,
    Project,
    Task,
)
from memos_server.text.tokens import words_version


class Importer(ProfileSteps):
    """One import of one file into one project, in the caller's transaction."""

    def __init__(
        self,
        session: AsyncSession,
        project: Project,
        embedder: Embedder,
        on_progress: OnProgress | None = None,
    ) -> None:
        super().__init__(session, project, embedder, on_progress)
        self.writers: dict[str, Callable[[Any], Awaitable[None]]] = {
            "task": self._tasks,
            "message": self._messages,
            "memory": self._memories,
            "history": self._deleted_history,
            "feedback": self._feedback,
            "knowledge_base": self._knowledge_bases,
            "knowledge_file": self._knowledge_files,
            "passage": self._passages,
            "profile_template": self._profile_templates,
            "profile": self._profiles,
        }

    async def run(self, lines: AsyncIterator[bytes]) -> ImportResult:
        started = time.monotonic()
        try:
            result = await self._run(lines)
            result.seconds = round(time.monotonic() - started, 3)
            return result
        finally:
            await self.repo.abandon()  # after an error: no write left running on the session

    async def _run(self, lines: AsyncIterator[bytes]) -> ImportResult:
        number, at = 0, -1
        batch: Numbered[Record] = []
        async for raw in lines:
            number += 1
            if not raw.strip():
                continue
            if self.header is None:
                await self._begin(read_header(raw, number))
                continue
            order = ORDERS[self.header.version]
            record, vector = read_record(raw, number, self.header.version)
            place = order.index(record.type)
            if place < at:
                raise FormatError(
                    f"line {number}: a {record.type} record after {order[at]} records; an "
                    f"export of version {self.header.version} holds its records in this "
                    f"order: {', '.join(order)}"
                )
            if batch and (place != at or len(batch) >= BATCH):
                await self._write(batch)
                batch = []
            at = place
            batch.append((number, record, vector))
        if self.header is None:
            raise FormatError("the file is empty: an export starts with its header line")
        if batch:
            await self._write(batch)
        async with refused():
            await self.repo.settle()
        bound = await self.repo.bound_model(MODEL_KEY)
        if bound is not None and bound != self.embedder.name:
            raise EmbeddingModelRetired(
                f"the database is now bound to the embedding model {bound}; this import embeds "
                f"with {self.embedder.name}: nothing was imported, run it with the new model"
            )
        return self.result

    async def _begin(self, header: Header) -> None:
        self.header = header
        await self.repo.one_import_at_a_time()
        await self.repo.defer_model_check()
        embedder = self.embedder
        self.carry = (
            header.embeddings
            and header.model == embedder.name
            and header.dimension == embedder.dimension
        )
        self.words = header.words == words_version()
        source = str(header.project_id)
        base = await self.repo.message_base(self.project_id, source)
        last = await self.repo.last_message_number(self.project_id)  # locks the counter
        if base is None:
            # Its own export back into the project: the same messages, the same numbers.
            base = 0 if last == 0 or header.project_id == self.project_id else last
            await self.repo.remember_source(self.project_id, source, base)
        await self.repo.reserve_numbers(self.project_id, base + header.message_seq)
        self.result.message_base = base

    async def _write(self, batch: Numbered[Record]) -> None:
        kind = batch[0][1].type
        writer = self.writers[kind]
        before = self.result.added.get(kind, 0) + self.result.skipped.get(kind, 0)
        self.repo.label = f"lines {batch[0][0]}-{batch[-1][0]}: {kind} records"
        async with refused():
            await writer(batch)
        if self.on_progress is not None and self.header is not None:
            done = before + len(batch)
            self.on_progress(kind, done, self.header.counts.get(kind, 0))

    async def _tasks(self, batch: Numbered[TaskRecord]) -> None:
        await self._store_new(
            Task, batch, lambda r, id_: rows.task(r, id=id_, project_id=self.project_id)
        )

    async def _messages(self, batch: Numbered[MessageRecord]) -> None:
        assert self.header is not None
        base, last = self.result.message_base, self.header.message_seq
        for number, r, _ in batch:
            if r.number > last:
                raise FormatError(
                    f"line {number}: message number {r.number} is past the header's "
                    f"message_seq {last}"
                )
        numbers = {base + r.number for _, r, _ in batch}
        stored = await self.repo.messages_by_number(self.project_id, numbers)
        await self._check_taken(batch, stored)
        tasks = await self._targets(Task, {r.task_id for _, r, _ in batch})
        new = [
            rows.message(
                r,
                seq=base + r.number,
                project_id=self.project_id,
                task_id=tasks.get(r.task_id) if r.task_id else None,
            )
            for _, r, _ in batch
            if base + r.number not in stored
        ]
        await self.repo.store(new)
        self.result.count("message", len(new), len(batch) - len(new))

    async def _check_taken(self, batch: Numbered[MessageRecord], stored: dict[int, int]) -> None:
        """A number already taken must hold the same message (imported before): one the project
        numbered itself since an earlier import of the same source would be skipped as if it
        were this one, and memories would cite it."""
        if not stored:
            return
        base = self.result.message_base
        taken = await self.repo.message_digests(self.project_id, set(stored))
        for line, r, _ in batch:
            here = base + r.number
            if here in taken and taken[here] != message_digest(r):
                raise BadRequest(
                    f"line {line}: message {r.number} of this export would be number {here} "
                    "here, which holds another message: the project has numbered messages of "
                    "its own since the source was last imported, and this export has messages "
                    "that import did not. Import it into a new project. Nothing was imported."
                )

    async def _memories(self, batch: Numbered[MemoryRecord]) -> None:
        # Segmenting (Chinese words, CPU) starts first, in a thread, so it runs while Postgres
        # still writes the batch before (the next statement waits for that write): for every
        # record of the batch, as which are already stored is not known yet.
        segmenting = asyncio.get_running_loop().run_in_executor(
            None, lambda: [self._text(r) for _, r, _ in batch]
        )
        try:
            await self._memory_rows(batch, segmenting)
        finally:
            if not segmenting.done():
                await asyncio.wait([segmenting])

    def _text(self, r: MemoryRecord) -> MemoryText:
        """The memory's text and its words: those the file carries when this segmenter made
        them (the header's ``words``), else made again from the key and value."""
        if self.words and r.search_text is not None:
            return MemoryText.carried(r.memory_key, r.memory_value, r.search_text)
        return MemoryText(r.memory_key, r.memory_value)

    async def _memory_rows(
        self, batch: Numbered[MemoryRecord], segmenting: asyncio.Future[list[MemoryText]]
    ) -> None:
        ids = await self._ids(Memory, [r.id for _, r, _ in batch])
        new_at = [i for i, (_, r, _) in enumerate(batch) if not ids[r.id][1]]
        todo = [batch[i] for i in new_at]
        base = self.result.message_base
        numbers = {base + n for _, r, _ in todo for n in r.source_messages}
        numbers |= {base + n for _, r, _ in todo for h in r.history for n in h.source_messages}
        messages = await self.repo.messages_by_number(self.project_id, numbers)
        tasks = await self._targets(
            Task,
            {r.task_id for _, r, _ in todo} | {h.task_id for _, r, _ in todo for h in r.history},
        )
        corrects = await self._targets(Memory, {c for _, r, _ in todo for c in r.corrects})
        # The bases it is shared into that the project holds (the file's come first; a one-user
        # export has none, and the memory keeps those already here).
        bases = {
            x: target
            for x, (target, held) in (
                await self._ids(
                    KnowledgeBase, list({b for _, r, _ in todo for b in r.knowledgebase_ids})
                )
            ).items()
            if held
        }
        segmented = await segmenting
        texts = [segmented[i] for i in new_at]
        vectors = await self._vectors([(n, v, r.memory_value) for n, r, v in todo])
        new: list[Any] = []
        for (_, r, _), text, vector in zip(todo, texts, vectors, strict=True):
            target = ids[r.id][0]
            new.append(
                rows.memory(
                    r,
                    text=text,
                    id=target,
                    project_id=self.project_id,
                    embedding=vector,
                    task_id=tasks.get(r.task_id) if r.task_id else None,
                    sources=self._sources(r.source_messages, messages),
                    corrects=[corrects[c] for c in r.corrects],
                    knowledgebase_ids=[bases[b] for b in r.knowledgebase_ids if b in bases],
                )
            )
            new.extend(self._history(target, r.history, messages, tasks))
        await self.repo.store(new)
        self.result.count("memory", len(todo), len(batch) - len(todo))

    def _history(
        self,
        memory_id: uuid.UUID,
        history: Sequence[Any],
        messages: dict[int, int],
        tasks: dict[uuid.UUID, uuid.UUID],
    ) -> list[object]:
        return [
            rows.history(
                h,
                memory_id=memory_id,
                project_id=self.project_id,
                sources=self._sources(h.source_messages, messages),
                task_id=tasks.get(h.task_id) if h.task_id else None,
            )
            for h in history
        ]

    async def _deleted_history(self, batch: Numbered[DeletedHistoryRecord]) -> None:
        ids = await self._ids(Memory, [r.memory_id for _, r, _ in batch])
        targets = {x: target for x, (target, _) in ids.items()}
        stored = await self.repo.with_history(self.project_id, set(targets.values()))
        todo = [r for _, r, _ in batch if targets[r.memory_id] not in stored]
        base = self.result.message_base
        messages = await self.repo.messages_by_number(
            self.project_id, {base + n for r in todo for h in r.history for n in h.source_messages}
        )
        tasks = await self._targets(Task, {h.task_id for r in todo for h in r.history})
        new: list[Any] = []
        for r in todo:
            new.extend(self._history(targets[r.memory_id], r.history, messages, tasks))
        await self.repo.store(new)
        self.result.count("history", len(todo), len(batch) - len(todo))

    async def _feedback(self, batch: Numbered[FeedbackRecord]) -> None:
        tasks = await self._stored_task(batch)
        stored = await self.repo.feedback_tasks(self.project_id, set(tasks.values()))
        new = [
            rows.feedback(r, project_id=self.project_id, task_id=tasks[r.task_id])
            for _, r, _ in batch
            if tasks[r.task_id] not in stored
        ]
        await self.repo.store(new)
        self.result.count("feedback", len(new), len(batch) - len(new))
