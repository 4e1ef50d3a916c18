"""Knowledge bases, their documents and passages, and the two search channels over passages.

Search reads only the named bases' passages: an exact scan through
``ix_knowledge_passages_base``, or, for a base large enough to have one, a walk of its own HNSW
index (``knowledge_indexes``); words through ``ix_knowledge_passages_tsv`` (GIN). A passage exists
only once its document is completed: the job writes the passages and the file's new status in one
transaction, and deleting a document or a base deletes its passages with it (foreign keys ON
DELETE CASCADE), so search never sees half a document.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import ColumnElement, cast, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer, undefer

from memos_server.filters import Filter
from memos_server.storage.models import KnowledgeBase, KnowledgeFile, KnowledgePassage
from memos_server.storage.passage_filters import passage_sql
from memos_server.storage.repositories.memory_scopes import Hit, HnswScan
from memos_server.storage.types import any_word, query_vector, text_query
from memos_server.storage.vocabulary import FileStatus

FLUSH_ROWS = 16


@dataclass(frozen=True)
class BaseCounts:
    """A knowledge base with what its documents hold (for the console's list)."""

    base: KnowledgeBase
    files: int
    running: int  # documents whose job has not finished
    failed: int
    passages: int  # passages search can return, over its completed documents


class KnowledgeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_base(self, base: KnowledgeBase) -> KnowledgeBase:
        self.session.add(base)
        await self.session.flush()
        return base

    async def bases(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, KnowledgeBase]:
        if not ids:
            return {}
        result = await self.session.execute(
            select(KnowledgeBase).where(KnowledgeBase.id.in_(list(ids)))
        )
        return {base.id: base for base in result.scalars()}

    async def base_ids_of(self, project_id: uuid.UUID) -> list[uuid.UUID]:
        result = await self.session.execute(
            select(KnowledgeBase.id).where(KnowledgeBase.project_id == project_id)
        )
        return list(result.scalars())

    async def bases_with_counts(
        self, project_id: uuid.UUID, offset: int, limit: int
    ) -> tuple[list[BaseCounts], int]:
        """One page of the project's bases, newest first, and how many it has."""
        total = await self.session.scalar(
            select(func.count()).where(KnowledgeBase.project_id == project_id)
        )
        status = KnowledgeFile.status
        result = await self.session.execute(
            select(
                KnowledgeBase,
                func.count(KnowledgeFile.id),
                func.count(KnowledgeFile.id).filter(status == FileStatus.RUNNING),
                func.count(KnowledgeFile.id).filter(status == FileStatus.FAILED),
                func.coalesce(func.sum(KnowledgeFile.passages), 0),
            )
            .outerjoin(KnowledgeFile, KnowledgeFile.knowledgebase_id == KnowledgeBase.id)
            .where(KnowledgeBase.project_id == project_id)
            .group_by(KnowledgeBase.id)
            .order_by(KnowledgeBase.created_at.desc(), KnowledgeBase.id)
            .offset(offset)
            .limit(limit)
        )
        found = [
            BaseCounts(base, int(files), int(running), int(failed), int(passages))
            for base, files, running, failed, passages in result.all()
        ]
        return found, int(total or 0)

    async def delete_base(self, base_id: uuid.UUID) -> None:
        await self.session.execute(delete(KnowledgeBase).where(KnowledgeBase.id == base_id))

    async def add_files(self, files: Sequence[KnowledgeFile]) -> None:
        self.session.add_all(files)
        await self.session.flush()

    async def files(self, ids: Sequence[uuid.UUID]) -> list[KnowledgeFile]:
        if not ids:
            return []
        result = await self.session.execute(
            select(KnowledgeFile).where(KnowledgeFile.id.in_(list(ids)))
        )
        return list(result.scalars())

    async def files_of_base(
        self, base_id: uuid.UUID, offset: int, limit: int
    ) -> tuple[list[KnowledgeFile], int]:
        """One page of the base's documents, oldest first, and how many it holds."""
        total = await self.session.scalar(
            select(func.count()).where(KnowledgeFile.knowledgebase_id == base_id)
        )
        result = await self.session.execute(
            select(KnowledgeFile)
            .where(KnowledgeFile.knowledgebase_id == base_id)
            .order_by(KnowledgeFile.seq)
            .offset(offset)
            .limit(limit)
        )
        return list(result.scalars()), int(total or 0)

    async def delete_files(self, ids: Sequence[uuid.UUID]) -> None:
        if ids:
            await self.session.execute(delete(KnowledgeFile).where(KnowledgeFile.id.in_(list(ids))))

    async def file_of_task(self, task_id: uuid.UUID, *, lock: bool = False) -> KnowledgeFile | None:
        """The document a job works on, with its content (locked for the job's write)."""
        query = (
            select(KnowledgeFile)
            .options(undefer(KnowledgeFile.content))
            .where(KnowledgeFile.task_id == task_id)
        )
        if lock:
            query = query.with_for_update()
        result = await self.session.execute(query)
        return result.scalar_one_or_none()

    async def finish_file(
        self,
        file_id: uuid.UUID,
        *,
        status: str,
        error: str | None,
        passages: int,
        size_bytes: int | None = None,
        type: str | None = None,
    ) -> None:
        """The document's outcome; its content is dropped either way (passages are what stays).
        A document fetched by URL learns its size and type here."""
        known = {"size_bytes": size_bytes, "type": type}
        await self.session.execute(
            update(KnowledgeFile)
            .where(KnowledgeFile.id == file_id)
            .values(
                status=status,
                error=error,
                passages=passages,
                content=None,
                updated_at=func.now(),
                **{key: value for key, value in known.items() if value is not None},
            )
        )

    async def replace_passages(
        self, file_id: uuid.UUID, passages: Sequence[KnowledgePassage]
    ) -> None:
        # A job run again (its first worker's lease ran out) must not leave two copies.
        await self.session.execute(
            delete(KnowledgePassage).where(KnowledgePassage.file_id == file_id)
        )
        for start in range(0, len(passages), FLUSH_ROWS):
            self.session.add_all(passages[start : start + FLUSH_ROWS])
            await self.session.flush()

    async def passages_of_file(
        self, file_id: uuid.UUID, offset: int, limit: int
    ) -> tuple[list[KnowledgePassage], int]:
        """One page of a document's passages in its order, and how many it has."""
        total = await self.session.scalar(
            select(func.count()).where(KnowledgePassage.file_id == file_id)
        )
        result = await self.session.execute(
            select(KnowledgePassage)
            .options(defer(KnowledgePassage.embedding))
            .where(KnowledgePassage.file_id == file_id)
            .order_by(KnowledgePassage.position)
            .offset(offset)
            .limit(limit)
        )
        return list(result.scalars()), int(total or 0)

    async def nearest(
        self,
        base_ids: Sequence[uuid.UUID],
        vector: Sequence[float],
        limit: int,
        hnsw: HnswScan | None = None,
        indexed: AbstractSet[uuid.UUID] = frozenset(),
        where: Filter | None = None,
        *,
        restore: bool = True,
    ) -> list[Hit]:
        """The passages closest to ``vector`` in these bases, with cosine similarity.

        Bases in ``indexed`` are walked through their own HNSW index (``knowledge_indexes``),
        one query each; the others are scanned exactly in one query. The walk's planner settings
        last to the end of the transaction unless ``restore`` (one round trip more)."""
        if not base_ids or limit <= 0:
            return []
        walked = [b for b in base_ids if b in indexed] if hnsw is not None else []
        scanned = [b for b in base_ids if b not in walked]
        hits: list[Hit] = []
        if scanned:
            hits += await self._nearest(scanned, vector, limit, KnowledgePassage.embedding, where)
        if walked:
            assert hnsw is not None
            column = cast(KnowledgePassage.embedding, Vector(hnsw.dimension))
            await self._configure(
                {
                    "hnsw.ef_search": str(max(hnsw.ef_search, limit)),
                    "plan_cache_mode": "force_custom_plan",
                    "enable_sort": "off",
                }
            )
            try:
                for base in walked:
                    hits += await self._nearest([base], vector, limit, column, where)
            finally:
                if restore:
                    await self._configure({"plan_cache_mode": "auto", "enable_sort": "on"})
        hits.sort(key=lambda hit: hit.similarity, reverse=True)
        return hits[:limit]

    async def _nearest(
        self,
        base_ids: Sequence[uuid.UUID],
        vector: Sequence[float],
        limit: int,
        column: Any,  # the vector column, or its cast to the index's fixed size
        passage_filter: Filter | None = None,
    ) -> list[Hit]:
        distance = column.cosine_distance(query_vector(vector))
        where: list[ColumnElement[bool]] = (
            # The partial index's own predicate, so the planner can match it.
            [KnowledgePassage.knowledgebase_id == base_ids[0]]
            if len(base_ids) == 1
            else [KnowledgePassage.knowledgebase_id.in_(list(base_ids))]
        )
        if passage_filter is not None:
            where.append(passage_sql(passage_filter))
        result = await self.session.execute(
            select(KnowledgePassage.id, KnowledgePassage.created_at, distance)
            .where(
                *where,
                # Passages embedded before a reindex to a model of another size are left to the
                # text channel instead of failing the search.
                func.vector_dims(KnowledgePassage.embedding) == len(vector),
            )
            .order_by(distance)
            .limit(limit)
        )
        return [Hit(id_, when, similarity=1.0 - float(d)) for id_, when, d in result.all()]

    async def _configure(self, values: dict[str, str]) -> None:
        """``SET LOCAL`` of several settings in one round trip."""
        calls = [func.set_config(name, value, True) for name, value in values.items()]
        await self.session.execute(select(*calls))

    async def lexical(
        self,
        base_ids: Sequence[uuid.UUID],
        tokens: Sequence[str],
        limit: int,
        where: Filter | None = None,
    ) -> list[Hit]:
        """Passages of these bases holding any of ``tokens``, best ``ts_rank`` first, with
        their index tokens (tokens from ``text_index``: safe inside quoted lexemes)."""
        if not base_ids or not tokens or limit <= 0:
            return []
        query = text_query(any_word(tokens))
        result = await self.session.execute(
            select(KnowledgePassage.id, KnowledgePassage.created_at, KnowledgePassage.search_text)
            .where(
                KnowledgePassage.knowledgebase_id.in_(list(base_ids)),
                # ``@@`` itself, not its function ts_match_vq: only the operator can use the GIN
                # index (ix_knowledge_passages_tsv), which a large base needs.
                KnowledgePassage.tsv.bool_op("@@")(query),
                *([] if where is None else [passage_sql(where)]),
            )
            .order_by(func.ts_rank(KnowledgePassage.tsv, query).desc())
            .limit(limit)
        )
        return [Hit(id_, when, words=tuple(text.split())) for id_, when, text in result.all()]

    async def count_passages(
        self, base_ids: Sequence[uuid.UUID], where: Filter | None = None
    ) -> int:
        if not base_ids:
            return 0
        total = await self.session.scalar(
            select(func.count()).where(
                KnowledgePassage.knowledgebase_id.in_(list(base_ids)),
                *([] if where is None else [passage_sql(where)]),
            )
        )
        return int(total or 0)

    async def passages(
        self, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[KnowledgePassage, str]]:
        """Passages by id, each with its document's name."""
        if not ids:
            return {}
        result = await self.session.execute(
            select(KnowledgePassage, KnowledgeFile.name)
            .join(KnowledgeFile, KnowledgeFile.id == KnowledgePassage.file_id)
            .options(defer(KnowledgePassage.embedding))
            .where(KnowledgePassage.id.in_(list(ids)))
        )
        return {passage.id: (passage, name) for passage, name in result.all()}
