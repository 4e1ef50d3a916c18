"""search/memory's own statements over memories, each one round trip: the full-text channel
with the counts (``lexical_and_counts``), and the final rows with their messages' numbers and,
for the recency step, their vectors (``found``). The vector channel is
``MemoryRepository.nearest_hits``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, any_, cast, func, null, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, array
from sqlalchemy.orm import defer
from sqlalchemy.orm.attributes import set_committed_value

from memos_server.storage.models import Memory, Message
from memos_server.storage.repositories.memories import MemoryRepository
from memos_server.storage.repositories.memory_scopes import Counts, Hit, Scope, live
from memos_server.storage.types import vector_as_floats
from memos_server.storage.vocabulary import MemoryMode

_when = func.coalesce(Memory.memory_time, Memory.create_time)
_no_count = cast(null(), BigInteger)
_no_words = cast(null(), ARRAY(BigInteger))


class MemorySearch(MemoryRepository):
    async def lexical_and_counts(
        self,
        scope: Scope,
        pools: Mapping[str, int],
        tokens: Sequence[str],
        *,
        frequencies: bool = False,
    ) -> tuple[dict[str, list[Hit]], Counts]:
        """Search's first statement: each kind's ``lexical`` hits and ``count_by_kind``, in one
        round trip (a UNION ALL: the hits' rows, then one row of counts per kind). With
        ``frequencies``, also how many memories of each kind hold each token (``Counts.words``;
        one more row per kind, counted over the rows the full-text query matches, which its
        ranking reads anyway)."""
        kinds = list(pools)
        hits: dict[str, list[Hit]] = {kind: [] for kind in kinds}
        if not tokens or not any(pools.values()):
            return hits, await self.count_by_kind(scope, kinds)
        query = func.to_tsquery("simple", " | ".join(f"'{token}'" for token in tokens))
        parts: list[Any] = [
            select(
                Memory.kind, Memory.id, _when, Memory.search_text, _no_count, _no_count, _no_words
            )
            .where(*scope.conditions(kind), func.ts_match_vq(Memory.tsv, query))
            .order_by(func.ts_rank(Memory.tsv, query).desc())
            .limit(limit)
            for kind, limit in pools.items()
            if limit > 0
        ]
        parts.append(
            select(
                Memory.kind,
                null(),
                null(),
                null(),
                func.count(),
                func.count().filter(Memory.mode == MemoryMode.FEEDBACK),
                _no_words,
            )
            .where(*scope.conditions(None), Memory.kind.in_(kinds))
            .group_by(Memory.kind)
        )
        if frequencies:
            held = [
                func.count().filter(
                    func.ts_match_vq(Memory.tsv, func.to_tsquery("simple", f"'{token}'"))
                )
                for token in tokens
            ]
            parts.append(
                select(Memory.kind, null(), null(), null(), _no_count, _no_count, array(held))
                .where(
                    *scope.conditions(None),
                    Memory.kind.in_(kinds),
                    func.ts_match_vq(Memory.tsv, query),
                )
                .group_by(Memory.kind)
            )
        counts = Counts(dict.fromkeys(kinds, 0), dict.fromkeys(kinds, 0))
        rows: Sequence[Any] = (await self.session.execute(union_all(*parts))).all()
        for kind, id_, when, text, count, feedback, words in rows:
            if words is not None:
                counts.words[kind] = dict(zip(tokens, map(int, words), strict=True))
            elif id_ is None:
                counts.memories[kind] = int(count)
                counts.feedback[kind] = int(feedback)
            else:
                hits[kind].append(Hit(id_, when, words=tuple(text.split())))
        return hits, counts

    async def found(
        self, ids: Sequence[uuid.UUID], *, vectors: bool = False, numbers: bool = False
    ) -> tuple[dict[uuid.UUID, Memory], dict[int, int]]:
        """``by_ids``, and with ``numbers`` the numbers (``seq``) of the messages they were made
        from, by message id, in the same round trip (search's last statement)."""
        if not ids:
            return {}, {}
        columns: list[Any] = [Memory]
        if vectors:
            # Decoded by the driver, not parsed from text in Python; set as loaded below.
            columns.append(vector_as_floats(Memory.embedding))
        if numbers:
            columns.append(
                select(func.jsonb_object_agg(Message.id, Message.seq, type_=JSONB))
                .where(
                    Message.id == any_(Memory.source_message_ids),
                    Message.project_id == Memory.project_id,
                )
                .scalar_subquery()
            )
        rows = await self.session.execute(
            select(*columns)
            .options(defer(Memory.embedding))
            .where(Memory.id.in_(list(ids)), live())
        )
        memories: dict[uuid.UUID, Memory] = {}
        seqs: dict[int, int] = {}
        for row in rows:
            memory = row[0]
            if vectors:
                set_committed_value(memory, "embedding", row[1])
            if numbers and row[-1]:
                seqs.update((int(id_), int(seq)) for id_, seq in row[-1].items())
            memories[memory.id] = memory
        return memories, seqs
