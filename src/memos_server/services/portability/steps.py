"""What every step of an import shares (``import_.Importer``): the ids records get here, the
tasks they name, their vectors; and the knowledge-base steps (bases, files, passages).

See ``import_`` for the rules (one transaction, ids kept or derived, message numbers).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.embedding import Embedder
from memos_server.services.knowledge.passages import Passage
from memos_server.services.portability import rows
from memos_server.services.portability.format import (
    CarriedVector,
    FormatError,
    Header,
    KnowledgeBaseRecord,
    KnowledgeFileRecord,
    PassageRecord,
    Record,
)
from memos_server.storage.database import refused_data
from memos_server.storage.models import (
    KnowledgeBase,
    KnowledgeFile,
    KnowledgePassage,
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
async def refused() -> AsyncIterator[None]:
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


class ImportSteps:
    """An import's state in the caller's transaction, and the steps shared by its kinds."""

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
        self.words = False  # the file's words were made by this segmenter (``words_version``)

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

    async def _store_new(
        self,
        model: Identified,
        batch: Numbered[Any],
        make: Callable[[Any, uuid.UUID], object],
    ) -> None:
        """Store the records of a batch that the project does not hold yet (by their ids here),
        each made a row by ``make(record, id)``, and count them under the batch's kind."""
        ids = await self._ids(model, [r.id for _, r, _ in batch])
        new = [make(r, ids[r.id][0]) for _, r, _ in batch if not ids[r.id][1]]
        await self.repo.store(new)  # type: ignore[arg-type]
        self.result.count(batch[0][1].type, len(new), len(batch) - len(new))

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

    async def _knowledge_bases(self, batch: Numbered[KnowledgeBaseRecord]) -> None:
        await self._store_new(
            KnowledgeBase,
            batch,
            lambda r, id_: rows.knowledge_base(r, id=id_, project_id=self.project_id),
        )

    async def _knowledge_files(self, batch: Numbered[KnowledgeFileRecord]) -> None:
        tasks = await self._stored_task(batch)
        bases = await self._targets(KnowledgeBase, {r.knowledgebase_id for _, r, _ in batch})
        await self._store_new(
            KnowledgeFile,
            batch,
            lambda r, id_: rows.knowledge_file(
                r,
                id=id_,
                project_id=self.project_id,
                knowledgebase_id=bases[r.knowledgebase_id],
                task_id=tasks[r.task_id],
            ),
        )

    def _passage_words(self, r: PassageRecord) -> str:
        if self.words and r.search_text is not None:
            return r.search_text
        return memory_tokens(r.heading, r.text) or " "

    async def _passages(self, batch: Numbered[PassageRecord]) -> None:
        ids = await self._ids(KnowledgePassage, [r.id for _, r, _ in batch])
        todo = [(n, r, v) for n, r, v in batch if not ids[r.id][1]]
        bases = await self._targets(KnowledgeBase, {r.knowledgebase_id for _, r, _ in todo})
        files = await self._targets(KnowledgeFile, {r.file_id for _, r, _ in todo})
        # The same words and embedded text as the document job gives a passage.
        words = await asyncio.to_thread(lambda: [self._passage_words(r) for _, r, _ in todo])
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
