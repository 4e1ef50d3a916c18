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
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.embedding import Embedder
from memos_server.services.knowledge.passages import Passage
from memos_server.services.memory_writer import MemoryText
from memos_server.services.portability import rows
from memos_server.services.portability.format import (
    ORDER,
    CarriedVector,
    DeletedHistoryRecord,
    FeedbackRecord,
    FormatError,
    Header,
    KnowledgeBaseRecord,
    KnowledgeFileRecord,
    MemoryRecord,
    MessageRecord,
    PassageRecord,
    Record,
    TaskRecord,
    read_header,
    read_record,
)
from memos_server.storage.database import refused_data
from memos_server.storage.models import (
    KnowledgeBase,
    KnowledgeFile,
    KnowledgePassage,
    Memory,
    Project,
    Task,
)
from memos_server.storage.repositories.portability import (
    BatchFailed,
    Identified,
    ImportRepository,
)
from memos_server.storage.types import VectorText
from memos_server.text.tokens import memory_tokens

BATCH = 1000
EMBED_BATCH = 64

R = TypeVar("R", bound=Record)
# Records with their line numbers and the vectors they carry.
Numbered = list[tuple[int, R, CarriedVector | None]]
OnProgress = Callable[[str, int, int], None]


@dataclass
class ImportResult:
    added: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # already stored
    embedded: int = 0  # memories and passages embedded here (not carried)
    message_base: int = 0  # exported message n is number message_base + n here
    seconds: float = 0.0  # from the first line read to the last row written

    def count(self, kind: str, added: int, skipped: int) -> None:
        self.added[kind] = self.added.get(kind, 0) + added
        self.skipped[kind] = self.skipped.get(kind, 0) + skipped


@asynccontextmanager
async def _refused() -> AsyncIterator[None]:
    """A value the format's checks let through but Postgres refuses (a number out of a vector's
    range, a reference to nothing): the file's fault, said as such, not a server error."""
    try:
        yield
    except BatchFailed as failed:
        if not refused_data(failed.error):
            raise failed.error from None
        orig = getattr(failed.error, "orig", None)
        problem = str(getattr(orig, "args", [""])[0] or failed.error).splitlines()[0][:300]
        raise FormatError(f"{failed.label} the database refused: {problem}") from None


def derived_id(project_id: uuid.UUID, exported: uuid.UUID) -> uuid.UUID:
    """The id a record gets when its exported id is taken by another project."""
    return uuid.uuid5(project_id, str(exported))


class Importer:
    """One import of one file into one project, in the caller's transaction."""

    def __init__(
        self,
        session: AsyncSession,
        project: Project,
        embedder: Embedder,
        on_progress: OnProgress | None = None,
    ) -> None:
        self.session = session
        self.project_id = project.id
        self.embedder = embedder
        self.on_progress = on_progress
        self.repo = ImportRepository(session)
        self.result = ImportResult()
        self.header: Header | None = None
        self.carry = False
        self.writers: dict[str, Callable[[Any], Awaitable[None]]] = {
            "task": self._tasks,
            "message": self._messages,
            "memory": self._memories,
            "history": self._deleted_history,
            "feedback": self._feedback,
            "knowledge_base": self._knowledge_bases,
            "knowledge_file": self._knowledge_files,
            "passage": self._passages,
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
            record, vector = read_record(raw, number)
            place = ORDER.index(record.type)
            if place < at:
                raise FormatError(
                    f"line {number}: a {record.type} record after {ORDER[at]} records; an "
                    f"export holds its records in this order: {', '.join(ORDER)}"
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
        async with _refused():
            await self.repo.settle()
        return self.result

    async def _begin(self, header: Header) -> None:
        self.header = header
        embedder = self.embedder
        self.carry = (
            header.embeddings
            and header.model == embedder.name
            and header.dimension == embedder.dimension
        )
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
        async with _refused():
            await writer(batch)
        if self.on_progress is not None and self.header is not None:
            done = before + len(batch)
            self.on_progress(kind, done, self.header.counts.get(kind, 0))

    async def _ids(
        self, model: Identified, exported: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[uuid.UUID, bool]]:
        """Each exported id's id here, and whether the project holds it already."""
        derived = {x: derived_id(self.project_id, x) for x in exported}
        owners = await self.repo.owners(model, {*derived, *derived.values()})
        here = self.project_id
        ids: dict[uuid.UUID, tuple[uuid.UUID, bool]] = {}
        for x, y in derived.items():
            if owners.get(x) == here:
                ids[x] = (x, True)
            elif owners.get(y) == here:
                ids[x] = (y, True)
            else:
                ids[x] = (y if x in owners else x, False)
        return ids

    async def _targets(self, model: Identified, exported: Any) -> dict[uuid.UUID, uuid.UUID]:
        known = [x for x in exported if x is not None]
        return {x: target for x, (target, _) in (await self._ids(model, known)).items()}

    async def _stored_task(self, records: Numbered[Any]) -> dict[uuid.UUID, uuid.UUID]:
        """The tasks these records name, which the project must hold by now."""
        found = await self._ids(Task, [r.task_id for _, r, _ in records])
        for number, r, _ in records:
            if not found[r.task_id][1]:
                raise FormatError(
                    f"line {number}: {r.type} names task {r.task_id}, which neither the "
                    "file's task records nor the project hold"
                )
        return {x: target for x, (target, _) in found.items()}

    def _sources(self, numbers: Sequence[int], ids: dict[int, int]) -> list[int]:
        base = self.result.message_base
        return [ids[base + n] for n in numbers if base + n in ids]

    async def _vectors(self, numbered: list[tuple[int, CarriedVector | None, str]]) -> list[Any]:
        """A vector for each (line, carried vector, text): the carried one when this model made
        it, else the text embedded now."""
        dimension = self.embedder.dimension
        out: list[Any] = []
        for number, vector, _ in numbered:
            if not self.carry or vector is None:
                out.append(None)
            elif vector.dimension != dimension:
                raise FormatError(
                    f"line {number}: a vector of {vector.dimension} dimensions; the header says "
                    f"{dimension}"
                )
            else:
                out.append(VectorText(vector.text))
        missing = [i for i, v in enumerate(out) if v is None]
        for start in range(0, len(missing), EMBED_BATCH):
            chunk = missing[start : start + EMBED_BATCH]
            made = await self.embedder.embed([numbered[i][2] for i in chunk])
            for i, new in zip(chunk, made, strict=True):
                out[i] = new
        self.result.embedded += len(missing)
        return out

    async def _tasks(self, batch: Numbered[TaskRecord]) -> None:
        ids = await self._ids(Task, [r.id for _, r, _ in batch])
        new = [
            rows.task(r, id=ids[r.id][0], project_id=self.project_id)
            for _, r, _ in batch
            if not ids[r.id][1]
        ]
        await self.repo.store(new)
        self.result.count("task", len(new), len(batch) - len(new))

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

    async def _memories(self, batch: Numbered[MemoryRecord]) -> None:
        ids = await self._ids(Memory, [r.id for _, r, _ in batch])
        todo = [(n, r, v) for n, r, v in batch if not ids[r.id][1]]
        base = self.result.message_base
        numbers = {base + n for _, r, _ in todo for n in r.source_messages}
        numbers |= {base + n for _, r, _ in todo for h in r.history for n in h.source_messages}
        messages = await self.repo.messages_by_number(self.project_id, numbers)
        tasks = await self._targets(
            Task,
            {r.task_id for _, r, _ in todo} | {h.task_id for _, r, _ in todo for h in r.history},
        )
        corrects = await self._targets(Memory, {c for _, r, _ in todo for c in r.corrects})
        texts = await asyncio.to_thread(
            lambda: [MemoryText(r.memory_key, r.memory_value) for _, r, _ in todo]
        )
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

    async def _knowledge_bases(self, batch: Numbered[KnowledgeBaseRecord]) -> None:
        ids = await self._ids(KnowledgeBase, [r.id for _, r, _ in batch])
        new = [
            rows.knowledge_base(r, id=ids[r.id][0], project_id=self.project_id)
            for _, r, _ in batch
            if not ids[r.id][1]
        ]
        await self.repo.store(new)
        self.result.count("knowledge_base", len(new), len(batch) - len(new))

    async def _knowledge_files(self, batch: Numbered[KnowledgeFileRecord]) -> None:
        ids = await self._ids(KnowledgeFile, [r.id for _, r, _ in batch])
        tasks = await self._stored_task(batch)
        bases = await self._targets(KnowledgeBase, {r.knowledgebase_id for _, r, _ in batch})
        new = [
            rows.knowledge_file(
                r,
                id=ids[r.id][0],
                project_id=self.project_id,
                knowledgebase_id=bases[r.knowledgebase_id],
                task_id=tasks[r.task_id],
            )
            for _, r, _ in batch
            if not ids[r.id][1]
        ]
        await self.repo.store(new)
        self.result.count("knowledge_file", len(new), len(batch) - len(new))

    async def _passages(self, batch: Numbered[PassageRecord]) -> None:
        ids = await self._ids(KnowledgePassage, [r.id for _, r, _ in batch])
        todo = [(n, r, v) for n, r, v in batch if not ids[r.id][1]]
        bases = await self._targets(KnowledgeBase, {r.knowledgebase_id for _, r, _ in todo})
        files = await self._targets(KnowledgeFile, {r.file_id for _, r, _ in todo})
        # The same words and embedded text as the document job gives a passage.
        words = await asyncio.to_thread(
            lambda: [memory_tokens(r.heading, r.text) or " " for _, r, _ in todo]
        )
        vectors = await self._vectors(
            [
                (n, v, Passage(r.position, r.heading, r.text, r.page).indexed_text)
                for n, r, v in todo
            ]
        )
        new = [
            rows.passage(
                r,
                id=ids[r.id][0],
                project_id=self.project_id,
                knowledgebase_id=bases[r.knowledgebase_id],
                file_id=files[r.file_id],
                embedding=vector,
                search_text=text,
                created_at=r.created_at,
            )
            for (_, r, _), text, vector in zip(todo, words, vectors, strict=True)
        ]
        await self.repo.store(new)
        self.result.count("passage", len(new), len(batch) - len(new))
