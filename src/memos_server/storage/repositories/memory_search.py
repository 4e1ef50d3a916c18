"""search/memory's own statements over memories, each one round trip for every kind searched:
the full-text channel with the counts (``lexical_and_counts``), the vector channel with the
similarity of the full-text hits (``nearest_and_similar``), and the final rows with their
messages' numbers and, for the recency step, their vectors (``found``). A user's own HNSW index
is walked by ``MemoryRepository.nearest_hits``, a statement per kind. With other searches under
way, the first two are one pass over the user's rows instead (``memory_scan``).

Each statement is built once per shape (the kinds, the number of query words, whose memories:
``Scope.shape``) and run again with new bind parameters: building a statement costs more Python
than running it. Built once, it runs on the driver itself (``storage.driver_sql``: no SQLAlchemy
execution, no transaction of its own). A scope with a filter or knowledge bases builds its
statements for the one search and runs them through SQLAlchemy (a filter binds JSON values).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    BigInteger,
    any_,
    bindparam,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, array
from sqlalchemy.sql.selectable import CompoundSelect, Select

from memos_server.storage.driver_sql import DriverStatement, driver_rows, driver_statement
from memos_server.storage.memory_rows import ROW_COLUMNS, MemoryRow
from memos_server.storage.models import Memory, Message
from memos_server.storage.repositories.memories import MemoryRepository
from memos_server.storage.repositories.memory_scopes import (
    Counts,
    Hit,
    Scope,
    live,
    vocabulary,
)
from memos_server.storage.types import (
    any_word,
    init_plan,
    query_vector_parameter,
    rows_of,
    text_query,
    vector_bytes,
)
from memos_server.storage.vocabulary import MemoryMode, MemoryStatus

_when = func.coalesce(Memory.memory_time, Memory.create_time)
_no_count = cast(null(), BigInteger)
_no_words = cast(null(), ARRAY(BigInteger))
_ids_type = ARRAY(UUID(as_uuid=True))
# The memories named, read once per execution (``init_plan``): the planner, not knowing how many,
# plans the statement once for all of them.
_ids = cast(init_plan(bindparam("ids", type_=_ids_type)), _ids_type)
# Statements kept per shape; a shape is a few kinds and a query's word count.
_SHAPES = 512


class Found(NamedTuple):
    memories: dict[uuid.UUID, MemoryRow]
    numbers: dict[int, int]  # message id -> its number (seq)
    vectors: dict[uuid.UUID, npt.NDArray[np.float32]]


# How many of a query's words are counted (how many memories hold each: ``Counts.words``), and
# in how many slots: a statement has one per slot, and each number of slots is a statement of
# its own (cached here, and prepared on every connection), so the slots come in powers of two
# and stop at this. A word past it is never left out as common (``fusion.telling_words``).
COUNTED_WORDS = 32


def _slots(words: int) -> int:
    """Slots for ``words`` counted words: 0, or the least power of two that holds them."""
    return 0 if words == 0 else 1 << (words - 1).bit_length()


def _limit(kind: str) -> str:
    return f"limit_{kind}"


def limit_of(scope: Scope, kind: str) -> Any:
    """The kind's candidate count, as a LIMIT of a statement on ``scope`` (``init_plan`` in one
    planned once: a plan for the one LIMIT looked cheaper than the shared plan, every time)."""
    limit = bindparam(_limit(kind), type_=BigInteger)
    return init_plan(limit) if scope.planned_once else limit


def _word(number: int) -> str:
    return f"word_{number}"


def _lexical(
    scope: Scope, kinds: tuple[str, ...], hit_kinds: tuple[str, ...], words: int, frequencies: bool
) -> CompoundSelect[Any]:
    query = text_query(bindparam("words"))
    parts: list[Any] = [
        _hits(scope, kind, query, words if frequencies else 0) for kind in hit_kinds
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
        .where(*scope.conditions(None), Memory.kind.in_([vocabulary(kind) for kind in kinds]))
        .group_by(Memory.kind)
    )
    return union_all(*parts)


def _hits(scope: Scope, kind: str, query: Any, words: int) -> Select[*tuple[Any, ...]]:
    """The kind's full-text hits, best first; with ``words``, each hit row also carries how many
    of the kind's matched rows hold each counted word: a window over the rows the hits' scan
    matched anyway, not a scan of its own. The window holds a narrow row (id, rank, each word's
    match: no text), the hits are cut to the limit after it (a top-n sort) and their text read
    by id: a user with tens of thousands of rows holding a common word is neither sorted whole
    nor copied whole (40,000 such rows: 63 ms against 66 for a scan of its own, at 64MB of
    ``work_mem``; at 4MB the window spills, 75 against 64)."""
    matches = func.ts_match_vq(Memory.tsv, query)
    if not words:
        return (
            select(
                Memory.kind, Memory.id, _when, Memory.search_text, _no_count, _no_count, _no_words
            )
            .where(*scope.conditions(kind), matches)
            .order_by(func.ts_rank(Memory.tsv, query).desc(), Memory.id)
            .limit(limit_of(scope, kind))
        )
    held = [
        func.ts_match_vq(Memory.tsv, text_query(bindparam(_word(i)))).label(f"held_{i}")
        for i in range(words)
    ]
    matched = (
        select(Memory.id, func.ts_rank(Memory.tsv, query).label("rank"), *held)
        .where(*scope.conditions(kind), matches)
        .subquery("matched")
    )
    counted = select(
        matched.c.id,
        matched.c.rank,
        array([func.count().filter(matched.c[f"held_{i}"]).over() for i in range(words)]).label(
            "held"
        ),
    ).subquery("counted")
    best = (
        select(counted.c.id, counted.c.rank, counted.c.held)
        .order_by(counted.c.rank.desc(), counted.c.id)
        .limit(limit_of(scope, kind))
        .subquery("best")
    )
    return (
        select(Memory.kind, Memory.id, _when, Memory.search_text, _no_count, _no_count, best.c.held)
        .join(best, Memory.id == best.c.id)
        .order_by(best.c.rank.desc(), best.c.id)
    )


@lru_cache(maxsize=_SHAPES)
def _lexical_of_shape(
    shape: tuple[bool, bool],
    kinds: tuple[str, ...],
    hit_kinds: tuple[str, ...],
    words: int,
    frequencies: bool,
) -> DriverStatement:
    return driver_statement(_lexical(Scope.of_shape(shape), kinds, hit_kinds, words, frequencies))


def _nearest(scope: Scope, kinds: tuple[str, ...]) -> CompoundSelect[Any]:
    """Each kind's closest memories (an exact scan of the scope's rows), then the similarity of
    the memories ``ids`` names (the full-text hits), with no kind."""
    distance = Memory.embedding.cosine_distance(query_vector_parameter("query_vector"))
    parts: list[Any] = [
        select(literal(kind), Memory.id, _when, distance)
        .where(*scope.conditions(kind))
        .order_by(distance, Memory.id)
        .limit(limit_of(scope, kind))
        for kind in kinds
    ]
    parts.append(
        select(null(), Memory.id, _when, distance).where(
            Memory.id == any_(_ids), Memory.embedding.is_not(None)
        )
    )
    return union_all(*parts)


@lru_cache(maxsize=_SHAPES)
def _nearest_of_shape(shape: tuple[bool, bool], kinds: tuple[str, ...]) -> DriverStatement:
    return driver_statement(_nearest(Scope.of_shape(shape), kinds))


@lru_cache(maxsize=4)
def _found(vectors: bool, numbers: bool) -> DriverStatement:
    """The final rows' statement, compiled once for the driver (the values come as asyncpg
    decodes them; the times are clamped in the SELECT list by ``ClientTime``)."""
    columns: list[Any] = [Memory.__table__.c[name] for name in ROW_COLUMNS]
    if vectors:
        columns.append(vector_bytes(Memory.embedding))
    if numbers:
        columns.append(
            select(func.jsonb_object_agg(Message.id, Message.seq, type_=JSONB))
            .where(
                Message.id == any_(Memory.source_message_ids),
                Message.project_id == Memory.project_id,
            )
            .scalar_subquery()
        )
    # Still active and live as this statement reads them: a memory archived or expired since
    # the channels' statements (each reads its own snapshot) is not shown.
    return driver_statement(
        select(*columns).where(
            Memory.id == any_(_ids), Memory.status == vocabulary(MemoryStatus.ACTIVATED), live()
        )
    )


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
        ``frequencies``, also how many memories of each kind hold each token (``Counts.words``,
        for the kinds with hits): counted by a window over the rows the full-text query
        matches, which the hits' scan reads anyway, and carried on each hit row."""
        kinds = tuple(pools)
        hits: dict[str, list[Hit]] = {kind: [] for kind in kinds}
        hit_kinds = tuple(kind for kind, limit in pools.items() if limit > 0)
        if not tokens or not hit_kinds:
            return hits, await self.count_by_kind(scope, list(kinds))
        counted = [any_word([token]) for token in tokens[:COUNTED_WORDS]] if frequencies else []
        words = _slots(len(counted))
        shape = scope.shape
        parameters = (
            scope.parameters()
            | {"words": any_word(tokens)}
            | {_limit(kind): pools[kind] for kind in hit_kinds}
            # The slots past the counted words repeat the last one; their counts are not read.
            | {_word(i): counted[min(i, len(counted) - 1)] for i in range(words)}
        )
        counts = Counts(dict.fromkeys(kinds, 0), dict.fromkeys(kinds, 0))
        rows: Sequence[Any] = (
            await driver_rows(
                self.session,
                _lexical_of_shape(shape, kinds, hit_kinds, words, frequencies),
                parameters,
            )
            if shape is not None
            else (
                await self.session.execute(
                    _lexical(scope, kinds, hit_kinds, words, frequencies), parameters
                )
            ).all()
        )
        for kind, id_, when, text, count, feedback, held in rows:
            if id_ is None:
                counts.memories[kind] = int(count)
                counts.feedback[kind] = int(feedback)
                continue
            hits[kind].append(Hit(id_, when, words=tuple(text.split())))
            if held is not None and kind not in counts.words:
                counted_held = held[: len(counted)]
                counts.words[kind] = dict(zip(tokens, map(int, counted_held), strict=False))
        return hits, counts

    async def nearest_and_similar(
        self,
        scope: Scope,
        pools: Mapping[str, int],
        vector: Sequence[float],
        ids: Sequence[uuid.UUID],
    ) -> tuple[dict[str, list[Hit]], dict[uuid.UUID, float]]:
        """The vector channel of every kind in ``pools`` (an exact scan of the scope's rows, the
        ``pools[kind]`` closest, closest first) and the similarity of the memories ``ids`` names
        to ``vector`` (the full-text hits the vector channel may not propose, so that every
        candidate is scored on both channels): one round trip."""
        kinds = tuple(pools)
        shape = scope.shape
        parameters = (
            scope.parameters()
            | {"query_vector": list(vector), "ids": list(ids)}
            | {_limit(kind): pools[kind] for kind in kinds}
        )
        rows: Sequence[Any] = (
            await driver_rows(self.session, _nearest_of_shape(shape, kinds), parameters)
            if shape is not None
            else (await self.session.execute(_nearest(scope, kinds), parameters)).all()
        )
        nearest: dict[str, list[Hit]] = {kind: [] for kind in kinds}
        similar: dict[uuid.UUID, float] = {}
        for kind, id_, when, distance in rows:
            if kind is None:
                similar[id_] = 1.0 - float(distance)
            else:
                nearest[kind].append(Hit(id_, when, similarity=1.0 - float(distance)))
        return nearest, similar

    async def found(
        self, ids: Sequence[uuid.UUID], *, vectors: bool = False, numbers: bool = False
    ) -> Found:
        """The live memories ``ids`` names, as ``MemoryRow``s, and in the same round trip
        (search's last statement): with ``numbers`` the numbers (``seq``) of the messages they
        were made from, by message id; with ``vectors`` their embeddings, by memory id."""
        result = Found({}, {}, {})
        if not ids:
            return result
        rows = await driver_rows(self.session, _found(vectors, numbers), {"ids": list(ids)})
        width = len(ROW_COLUMNS)
        if vectors:
            stored = [row for row in rows if row[width] is not None]
            decoded = rows_of([row[width] for row in stored])
            result.vectors.update(zip((row[0] for row in stored), decoded, strict=True))
        for row in rows:
            memory = MemoryRow(*row[:width])
            if numbers and row[-1]:
                result.numbers.update((int(id_), int(seq)) for id_, seq in row[-1].items())
            result.memories[memory.id] = memory
        return result
