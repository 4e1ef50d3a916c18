"""search/memory's one scan: both channels and the counts from a single pass over the scope's rows.

The two-statement form (``memory_search``: the full-text channel with the counts, then the vector
channel with the similarity of the full-text hits) reads every row of the user's scope three times:
the full-text match, the counts, the exact vector scan (each an index scan of the same rows: on a
user with 2,000 memories, 637 buffers each). Once the query's embedding is known, one statement
does it in one pass: each row's cosine distance and full-text match are computed once into a
materialized CTE, one per kind (a narrow row: id, time, mode, distance, match, and for the rows
that match, their rank and which counted words they hold); the kind's nearest rows, its best-ranked
matches (their text read back by id, as ``memory_search._hits`` does) and its counts are read from
it. One CTE per kind, not one for all: each branch reads only its kind's rows, and a kind the user
has none of costs an empty index scan, not two reads of the others' rows (3-4% less Postgres CPU
for a fast-mode user, whose preferences are none). The full-text hits carry their distance, so the
similarity of every candidate comes with them. Same results as the two statements; a fifth less
Postgres CPU per search (``docs/search.md``).

The search engine takes this path when both channels run over an exact scan of every kind (no
per-user HNSW index to walk) and the query has words; otherwise the two statements.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Integer,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.sql.selectable import CTE, CompoundSelect
from sqlalchemy.types import String

from memos_server.storage.driver_sql import DriverStatement, driver_rows, driver_statement
from memos_server.storage.models import Memory
from memos_server.storage.repositories.memory_scopes import Counts, Hit, Scope
from memos_server.storage.repositories.memory_search import (
    COUNTED_WORDS,
    MemorySearch,
    _limit,
    _slots,
    _when,
    _word,
    limit_of,
)
from memos_server.storage.types import any_word, query_vector_parameter, text_query
from memos_server.storage.vocabulary import MemoryMode

_NEAREST, _LEXICAL, _COUNTS = 0, 1, 2
# Statements kept per shape (the kinds, the counted words' slots, whose memories).
_SHAPES = 512


class Scanned(NamedTuple):
    nearest: dict[str, list[Hit]]  # each kind's closest rows, closest first
    lexical: dict[str, list[Hit]]  # each kind's best full-text matches, best first
    similar: dict[uuid.UUID, float]  # the similarity of each full-text hit
    counts: Counts


def _scanned(scope: Scope, kind: str, words: int) -> CTE:
    """The kind's rows of the scope, each with its distance and its full-text match computed
    once (and, for the rows that match, their rank and which counted words they hold): a
    materialized CTE of narrow rows that the kind's branches read in turn."""
    query = text_query(bindparam("words"))
    # OFFSET 0 keeps this subquery from being merged into the one above it, which would compute
    # the match again at each use.
    rows = (
        select(
            Memory.id,
            _when.label("time"),
            Memory.mode,
            Memory.tsv,
            Memory.embedding.cosine_distance(query_vector_parameter("query_vector")).label(
                "distance"
            ),
            func.ts_match_vq(Memory.tsv, query).label("matched"),
        )
        .where(*scope.conditions(kind))
        .offset(literal_column("0"))
        .subquery(f"rows_{kind}")
    )
    matched = rows.c.matched
    held = [
        (matched & func.ts_match_vq(rows.c.tsv, text_query(bindparam(_word(i))))).label(f"held_{i}")
        for i in range(words)
    ]
    return (
        select(
            rows.c.id,
            rows.c.time,
            rows.c.mode,
            rows.c.distance,
            matched,
            case((matched, func.ts_rank(rows.c.tsv, query))).label("rank"),
            *held,
        )
        .cte(f"scanned_{kind}")
        .prefix_with("MATERIALIZED")
    )


def _scan(scope: Scope, kinds: tuple[str, ...], words: int) -> CompoundSelect[Any]:
    """Each kind's nearest rows, best full-text matches and counts, from one CTE per kind: each
    row of the scope is read once, and each kind's branches read only that kind's rows (a kind
    with none costs an empty index scan)."""
    no_text = cast(null(), String)
    no_counts = cast(null(), ARRAY(BigInteger))
    parts: list[Any] = []
    for kind in kinds:
        scanned = _scanned(scope, kind, words)
        parts.append(
            select(
                literal_column(str(_NEAREST), Integer),
                literal(kind, String),
                scanned.c.id,
                scanned.c.time,
                scanned.c.distance,
                no_text,
                no_counts,
            )
            .where(scanned.c.distance.is_not(None))
            .order_by(scanned.c.distance, scanned.c.id)
            .limit(limit_of(scope, kind))
        )
        best = (
            select(scanned.c.id, scanned.c.time, scanned.c.distance, scanned.c.rank)
            .where(scanned.c.matched)
            .order_by(scanned.c.rank.desc(), scanned.c.id)
            .limit(limit_of(scope, kind))
            .subquery(f"best_{kind}")
        )
        parts.append(
            select(
                literal_column(str(_LEXICAL), Integer),
                literal(kind, String),
                best.c.id,
                best.c.time,
                best.c.distance,
                Memory.search_text,
                no_counts,
            )
            .join(best, Memory.id == best.c.id)
            .order_by(best.c.rank.desc(), best.c.id)
        )
        counted = [
            func.count(),
            func.count().filter(scanned.c.mode == MemoryMode.FEEDBACK),
            *(func.count().filter(scanned.c[f"held_{i}"]) for i in range(words)),
        ]
        parts.append(
            select(
                literal_column(str(_COUNTS), Integer),
                literal(kind, String),
                null(),
                null(),
                null(),
                no_text,
                array(counted),
            ).select_from(scanned)
        )
    return union_all(*parts)


@lru_cache(maxsize=_SHAPES)
def _scan_of_shape(shape: tuple[bool, bool], kinds: tuple[str, ...], words: int) -> DriverStatement:
    return driver_statement(_scan(Scope.of_shape(shape), kinds, words))


class MemoryScan(MemorySearch):
    async def scanned(
        self,
        scope: Scope,
        pools: Mapping[str, int],
        tokens: Sequence[str],
        vector: Sequence[float],
        *,
        frequencies: bool = False,
    ) -> Scanned:
        """Both channels of every kind in ``pools`` (each kind's ``pools[kind]`` nearest rows
        and best full-text matches), the similarity of those matches, and the counts
        (``MemorySearch.lexical_and_counts``'s): one statement, one pass over the scope's rows.
        ``tokens`` must not be empty."""
        kinds = tuple(pools)
        counted = [any_word([token]) for token in tokens[:COUNTED_WORDS]] if frequencies else []
        words = _slots(len(counted))
        parameters = (
            scope.parameters()
            | {"words": any_word(tokens), "query_vector": list(vector)}
            | {_limit(kind): pools[kind] for kind in kinds}
            # The slots past the counted words repeat the last one; their counts are not read.
            | {_word(i): counted[min(i, len(counted) - 1)] for i in range(words)}
        )
        shape = scope.shape
        rows: Sequence[Any] = (
            await driver_rows(self.session, _scan_of_shape(shape, kinds, words), parameters)
            if shape is not None
            else (await self.session.execute(_scan(scope, kinds, words), parameters)).all()
        )
        found = Scanned(
            {kind: [] for kind in kinds},
            {kind: [] for kind in kinds},
            {},
            Counts(dict.fromkeys(kinds, 0), dict.fromkeys(kinds, 0)),
        )
        for part, kind, id_, time, distance, text, numbers in rows:
            if part == _NEAREST:
                found.nearest[kind].append(Hit(id_, time, similarity=1.0 - float(distance)))
            elif part == _LEXICAL:
                found.lexical[kind].append(Hit(id_, time, words=tuple((text or "").split())))
                if distance is not None:
                    found.similar[id_] = 1.0 - float(distance)
            else:
                found.counts.memories[kind] = int(numbers[0])
                found.counts.feedback[kind] = int(numbers[1])
                if counted:
                    held = map(int, numbers[2 : 2 + len(counted)])
                    found.counts.words[kind] = dict(zip(tokens, held, strict=False))
        return found
