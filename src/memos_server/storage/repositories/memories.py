"""Memories and their vector search."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from pgvector.sqlalchemy import Vector
from sqlalchemy import cast, delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from memos_server.storage.models import Memory, MemoryHistory, Task
from memos_server.storage.repositories.memory_scopes import (
    Counts,
    Hit,
    HnswScan,
    Scope,
    Selection,
    live,
)
from memos_server.storage.types import any_word, query_vector, text_query
from memos_server.storage.vocabulary import HistoryEvent, MemoryKind, MemoryMode, MemoryStatus

_when = func.coalesce(Memory.memory_time, Memory.create_time)
FLUSH_ROWS = 16


class MemoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_all(self, memories: Sequence[Memory], history: Sequence[MemoryHistory]) -> None:
        # A few dozen rows per statement: turning rows into parameters (a vector's 384 floats into
        # text) runs on the event loop, and 126 rows at once (a 32,000-character message) held it
        # for a tenth of a second and more; between chunks the loop serves other requests.
        for start in range(0, len(memories), FLUSH_ROWS):
            self.session.add_all(memories[start : start + FLUSH_ROWS])
            await self.session.flush()
        self.session.add_all(history)
        await self.session.flush()

    async def nearest(
        self,
        scope: Scope,
        kind: str,
        vector: Sequence[float],
        limit: int,
        *,
        mode: str | None = None,
    ) -> list[tuple[Memory, float]]:
        """The user's active memories of one kind, closest first, with cosine similarity.

        An exact scan of one user's rows through ``ix_memories_user_scan``: exact, and fast up to
        tens of thousands of memories per user. The vector itself is not read back.
        """
        if limit <= 0:
            return []
        distance = Memory.embedding.cosine_distance(query_vector(vector)).label("distance")
        query = (
            select(Memory, distance)
            .options(defer(Memory.embedding))
            .where(*scope.conditions(kind))
            .order_by(distance)
            .limit(limit)
        )
        if mode is not None:
            query = query.where(Memory.mode == mode)
        result = await self.session.execute(query)
        return [(memory, 1.0 - float(dist)) for memory, dist in result.all()]

    async def count_by_kind(self, scope: Scope, kinds: Sequence[str]) -> Counts:
        """How many memories of each kind are in scope (0: no need to look further), and how
        many of them are feedback memories."""
        result = await self.session.execute(
            select(
                Memory.kind, func.count(), func.count().filter(Memory.mode == MemoryMode.FEEDBACK)
            )
            .where(*scope.conditions(None), Memory.kind.in_(list(kinds)))
            .group_by(Memory.kind)
        )
        counts = Counts(dict.fromkeys(kinds, 0), dict.fromkeys(kinds, 0))
        for kind, count, feedback in result.all():
            counts.memories[kind] = int(count)
            counts.feedback[kind] = int(feedback)
        return counts

    async def corrections(
        self, scope: Scope, kind: str, memory_ids: Sequence[uuid.UUID]
    ) -> list[Memory]:
        """The feedback memories in scope that correct any of these memories."""
        if not memory_ids:
            return []
        result = await self.session.execute(
            select(Memory)
            .options(defer(Memory.embedding))
            .where(
                *scope.conditions(kind),
                Memory.mode == MemoryMode.FEEDBACK,
                Memory.corrects.overlap(list(memory_ids)),
            )
        )
        return list(result.scalars())

    async def nearest_hits(
        self,
        scope: Scope,
        kind: str,
        vector: Sequence[float],
        limit: int,
        hnsw: HnswScan | None = None,
    ) -> list[Hit]:
        """The search's vector channel: ids and similarities only, closest first.

        An exact scan of one user's rows through ``ix_memories_user_scan`` that reads back no
        text and no vector; or, with ``hnsw``, a walk of the user's own HNSW index (see
        ``vector_indexes``): the planner sees the values (custom plan), so it can match the
        partial index, and is told not to sort, so it takes the index over a scan.
        """
        if limit <= 0:
            return []
        column = (
            Memory.embedding if hnsw is None else cast(Memory.embedding, Vector(hnsw.dimension))
        )
        distance = column.cosine_distance(query_vector(vector))
        query = (
            select(Memory.id, _when, distance)
            .where(*scope.conditions(kind))
            .order_by(distance)
            .limit(limit)
        )
        if hnsw is None:
            result = await self.session.execute(query)
            return [Hit(id_, when, similarity=1.0 - float(d)) for id_, when, d in result.all()]
        await self._configure(
            {
                "hnsw.ef_search": str(max(hnsw.ef_search, limit)),
                "plan_cache_mode": "force_custom_plan",
                "enable_sort": "off",
            }
        )
        try:
            result = await self.session.execute(query)
            return [Hit(id_, when, similarity=1.0 - float(d)) for id_, when, d in result.all()]
        finally:
            await self._configure({"plan_cache_mode": "auto", "enable_sort": "on"})

    async def _configure(self, values: dict[str, str]) -> None:
        """``SET LOCAL`` of several settings in one round trip."""
        calls = [func.set_config(name, value, True) for name, value in values.items()]
        await self.session.execute(select(*calls))

    async def lexical(
        self, scope: Scope, kind: str, tokens: Sequence[str], limit: int
    ) -> list[Hit]:
        """The search's full-text channel: the user's memories holding any of ``tokens`` (OR),
        best ``ts_rank`` first, with their index tokens for BM25.

        The tokens come from ``text_index`` (letters, digits, CJK), so they are safe inside a
        quoted tsquery lexeme.
        """
        if not tokens or limit <= 0:
            return []
        query = text_query(any_word(tokens))
        result = await self.session.execute(
            select(Memory.id, _when, Memory.search_text)
            # ts_match_vq is ``@@`` as a function, which no index can serve: the user's rows come
            # from the user index and each is matched in place. The GIN index on tsv spans every
            # user; at a million memories a common word matched 114,000 rows there (30 ms) to keep
            # one user's few hundred.
            .where(*scope.conditions(kind), func.ts_match_vq(Memory.tsv, query))
            .order_by(func.ts_rank(Memory.tsv, query).desc())
            .limit(limit)
        )
        return [Hit(id_, when, words=tuple(text.split())) for id_, when, text in result.all()]

    async def by_ids(
        self, ids: Sequence[uuid.UUID], *, vectors: bool = False
    ) -> dict[uuid.UUID, Memory]:
        """These memories, by id, unless expired; their vectors only if asked."""
        if not ids:
            return {}
        query = select(Memory).where(Memory.id.in_(list(ids)), live())
        if not vectors:
            query = query.options(defer(Memory.embedding))
        result = await self.session.execute(query)
        return {memory.id: memory for memory in result.scalars()}

    async def get_active(self, project_id: uuid.UUID, memory_id: uuid.UUID) -> Memory | None:
        result = await self.session.execute(
            select(Memory).where(
                Memory.id == memory_id,
                Memory.project_id == project_id,
                Memory.status == MemoryStatus.ACTIVATED,
                live(),
            )
        )
        return result.scalar_one_or_none()

    async def active_fast_for_messages(
        self, project_id: uuid.UUID, message_ids: Sequence[int]
    ) -> list[Memory]:
        """The fast-mode fact windows made from any of these messages that are still active
        (a fast tool trajectory is kept: fine mode makes none to replace it)."""
        result = await self.session.execute(
            select(Memory)
            .options(defer(Memory.embedding))
            .where(
                Memory.project_id == project_id,
                Memory.mode == MemoryMode.FAST,
                Memory.kind == MemoryKind.FACT,
                Memory.status == MemoryStatus.ACTIVATED,
                Memory.source_message_ids.overlap(list(message_ids)),
            )
        )
        return list(result.scalars())

    async def made_from(
        self, project_id: uuid.UUID, user_id: str, message_ids: Sequence[int]
    ) -> list[Memory]:
        """The user's unexpired memories made from any of these messages, whatever their status,
        oldest first (the user's rows come from the user index; each is matched in place)."""
        if not message_ids:
            return []
        result = await self.session.execute(
            select(Memory)
            .options(defer(Memory.embedding), defer(Memory.search_text))
            .where(
                Memory.project_id == project_id,
                Memory.user_id == user_id,
                Memory.source_message_ids.overlap(list(message_ids)),
                live(),
            )
            .order_by(Memory.create_time, Memory.id)
        )
        return list(result.scalars())

    async def active_feedback_for_task(
        self, project_id: uuid.UUID, task_id: uuid.UUID
    ) -> list[Memory]:
        """The feedback memory one add/feedback stored, if it is still active."""
        result = await self.session.execute(
            select(Memory)
            .options(defer(Memory.embedding))
            .where(
                Memory.project_id == project_id,
                Memory.task_id == task_id,
                Memory.mode == MemoryMode.FEEDBACK,
                Memory.status == MemoryStatus.ACTIVATED,
            )
        )
        return list(result.scalars())

    async def archive(self, memory_ids: Sequence[uuid.UUID]) -> None:
        if memory_ids:
            await self.session.execute(
                update(Memory)
                .where(Memory.id.in_(list(memory_ids)))
                .values(status=MemoryStatus.ARCHIVED, update_time=func.now())
            )

    async def count_selected(self, selection: Selection, kinds: Sequence[str]) -> dict[str, int]:
        """How many memories of each kind the selection takes."""
        result = await self.session.execute(
            select(Memory.kind, func.count())
            .where(*selection.conditions(), Memory.kind.in_(list(kinds)))
            .group_by(Memory.kind)
        )
        found = dict.fromkeys(kinds, 0)
        found.update({kind: int(count) for kind, count in result.all()})
        return found

    async def newest(self, selection: Selection, offset: int, limit: int) -> list[Memory]:
        """One page of the selection, newest first (id breaks ties, so pages never overlap)."""
        result = await self.session.execute(
            select(Memory)
            .options(defer(Memory.embedding), defer(Memory.search_text))
            .where(*selection.conditions())
            .order_by(Memory.create_time.desc(), Memory.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list(result.scalars())

    async def owner(self, project_id: uuid.UUID, memory_id: uuid.UUID) -> str | None:
        """The user whose memory this is (None: none, or no such memory)."""
        result = await self.session.execute(
            select(Memory.user_id).where(Memory.id == memory_id, Memory.project_id == project_id)
        )
        return result.scalar_one_or_none()

    async def find(
        self, project_id: uuid.UUID, memory_id: uuid.UUID, *, lock: bool = False
    ) -> Memory | None:
        """The project's memory with this id, whatever its status, unless expired; ``lock``:
        FOR UPDATE."""
        query = (
            select(Memory)
            .options(defer(Memory.embedding), defer(Memory.search_text))
            .where(Memory.id == memory_id, Memory.project_id == project_id, live())
        )
        if lock:
            query = query.with_for_update()
        result = await self.session.execute(query)
        return result.scalar_one_or_none()

    async def save(self, memory: Memory, history: MemoryHistory) -> None:
        """Write a changed memory and its history row, and read back its new update time."""
        memory.update_time = func.now()
        self.session.add(history)
        await self.session.flush()
        await self.session.refresh(memory, ["update_time"])

    async def delete_selected(self, selection: Selection) -> int:
        """Delete the selection and write a DELETE history row for each memory (its last value),
        in one statement however many there are; how many were deleted.

        An add none of whose memories is left loses its fingerprint: sending the same add again
        stores it again (a repeat within the dedupe window would otherwise answer the old task,
        whose memories are gone). An add some of whose memories remain keeps it: stored again,
        those would be there twice. Its ``Idempotency-Key`` stays: a key names one request."""
        deleted = (
            delete(Memory)
            .where(*selection.conditions())
            .returning(
                Memory.id,
                Memory.project_id,
                Memory.task_id,
                Memory.memory_value,
                Memory.source_message_ids,
            )
            .cte("deleted")
        )
        recorded = (
            insert(MemoryHistory)
            .from_select(
                ["memory_id", "project_id", "event", "old_value", "source_message_ids"],
                select(
                    deleted.c.id,
                    deleted.c.project_id,
                    literal(HistoryEvent.DELETE.value),
                    deleted.c.memory_value,
                    deleted.c.source_message_ids,
                ),
            )
            .returning(MemoryHistory.memory_id)
            .cte("recorded")
        )
        count, tasks = (
            await self.session.execute(
                select(
                    select(func.count()).select_from(recorded).scalar_subquery(),
                    select(func.array_agg(deleted.c.task_id.distinct()))
                    .where(deleted.c.task_id.is_not(None))
                    .scalar_subquery(),
                )
            )
        ).one()
        if tasks:
            left = select(Memory.id).where(Memory.task_id == Task.id).exists()
            await self.session.execute(
                update(Task)
                .where(
                    Task.project_id == selection.project_id,
                    Task.id.in_(list(tasks)),
                    Task.fingerprint.is_not(None),
                    ~left,
                )
                .values(fingerprint=None)
            )
        return int(count or 0)
