"""Column types of our own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from pgvector import Vector
from pgvector.sqlalchemy import Vector as PgVector
from sqlalchemy import (
    REAL,
    DateTime,
    Dialect,
    LargeBinary,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from memos_server.times import EARLIEST, LATEST, utc

_EARLIEST: ColumnElement[datetime] = literal_column(f"'{EARLIEST.isoformat()}'::timestamptz")
_LATEST: ColumnElement[datetime] = literal_column(f"'{LATEST.isoformat()}'::timestamptz")


class ClientTime(TypeDecorator[datetime]):
    """A ``timestamptz`` that came from outside (a client's ``chat_time``, a model's
    ``memory_time``), read back inside the range of ``memos_server.times`` whatever is stored.

    New values are checked on the way in; this covers rows written before that check: a year-1
    time asyncpg stored as ``-infinity`` (read back naive, and breaking whatever showed it), or an
    instant before year 1 in UTC, which asyncpg cannot read at all. The clamp is done in the
    SELECT list, where the driver has not yet seen the value; WHERE and ORDER BY see what is
    stored.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def column_expression(self, colexpr: ColumnElement[Any]) -> ColumnElement[Any]:
        # CASE, not GREATEST/LEAST: those skip NULLs, and a NULL time must stay NULL.
        return case(
            (colexpr < _EARLIEST, _EARLIEST),
            (colexpr > _LATEST, _LATEST),
            else_=colexpr,
        )

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else utc(value)


class StoredVector(PgVector):
    """pgvector's column type, binding a vector of floats as float32 text in one formatting
    pass: pgvector's own binding prints each float's full double repr in a Python loop (about
    0.3 ms for 384 of them, four times in a four-message add); ``%.9g`` of each float32 is as
    exact (nine significant digits round-trip a float32) and a third of the time."""

    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Any:
        return _as_text

    def literal_processor(self, dialect: Dialect) -> Any:
        def process(value: Any) -> str:
            text = _as_text(value)
            return "NULL" if text is None else "'" + text.replace("'", "''") + "'"

        return process


def _as_text(value: Any) -> str | None:
    if isinstance(value, (list, tuple, np.ndarray)):
        return vector_text(value)
    return Vector._to_db(value)


def vector_text(values: Sequence[float] | npt.NDArray[Any]) -> str:
    """``values`` as pgvector's text (``[0.1,-0.2,...]``), each rounded to float32 as pgvector
    stores it, then printed exactly; NaN and infinity print as ``nan`` and ``inf``, which
    pgvector refuses, as before."""
    if any(v is None for v in values):
        raise ValueError("a vector holds numbers, not null")
    with np.errstate(over="ignore"):  # past float32's range: inf, which pgvector refuses
        floats = np.asarray(values, dtype=np.float32)
    if floats.ndim != 1:
        raise ValueError("a vector has one dimension")
    return _vector_format(len(floats)) % tuple(floats.tolist())


@lru_cache(maxsize=8)
def _vector_format(dimensions: int) -> str:
    return "[" + ",".join(["%.9g"] * dimensions) + "]"


class VectorText(Vector):
    """A vector already written as pgvector reads it (``[0.1,0.2,...]``), bound as that text.

    pgvector's own binding prints every float again in Python (half a millisecond for 384 of
    them); a vector that arrives as text (an import's) is handed to Postgres as it is, which
    parses and checks it."""

    def __init__(self, text: str, /) -> None:  # no super(): nothing to convert
        self.text = text

    def to_text(self) -> str:
        return self.text


def init_plan(expression: ColumnElement[Any]) -> ColumnElement[Any]:
    """``expression`` evaluated once per execution, in a scalar subquery (an InitPlan): neither
    again for every row a prepared statement's generic plan reads, nor seen by the planner, so
    the plan made for one execution's values is the plan for every other's."""
    return select(expression).scalar_subquery()


def query_vector(vector: Sequence[float]) -> ColumnElement[Any]:
    """A query's vector as a statement's parameter: a ``real[]`` asyncpg encodes in C, cast to
    ``vector`` by Postgres once per execution (see ``query_vector_parameter``). pgvector's own
    binding prints the 384 floats as text in Python first (about a millisecond per search on the
    development machine)."""
    return init_plan(cast(literal(list(vector), ARRAY(REAL)), PgVector()))


def query_vector_parameter(name: str) -> ColumnElement[Any]:
    """``query_vector`` as a named bind parameter, for a statement built once and run again.

    Cast once per execution, in a scalar subquery (an InitPlan): a prepared statement that
    Postgres runs with a generic plan would otherwise cast the parameter again for every row it
    compares, which was most of an exact scan's time (``deconstruct_array`` and
    ``array_to_vector``, 62% of the vector channel's CPU in Postgres)."""
    return init_plan(cast(bindparam(name, type_=ARRAY(REAL)), PgVector()))


def text_query(words: Any) -> ColumnElement[Any]:
    """``to_tsquery('simple', words)`` (``words``: a bind parameter or the query text itself),
    parsed once per execution in a scalar subquery (an InitPlan). Written inline, a prepared
    statement run with a generic plan parsed it again for every row it matched, ranked or
    counted: most of the full-text channel's time in Postgres."""
    return init_plan(func.to_tsquery("simple", words))


def any_word(tokens: Sequence[str]) -> str:
    """The ``to_tsquery`` text matching any of ``tokens``: each a quoted lexeme (index tokens,
    from ``text_index``, are safe inside the quotes), joined by ``|``."""
    return " | ".join(f"'{token}'" for token in tokens)


def vector_bytes(column: Any) -> ColumnElement[bytes]:
    """A stored vector in pgvector's binary form (``vector_send``), one ``bytes`` per row, read
    by ``floats_of``. pgvector's own reader parses the vector's text in Python (about half a
    millisecond per row); as ``real[]`` the driver made a float object of every dimension and
    SQLAlchemy copied the list twice (a search's recency step reads up to 20 rows a kind)."""
    return func.vector_send(column, type_=LargeBinary)


def floats_of(data: bytes) -> npt.NDArray[np.float32]:
    """A vector from ``vector_bytes``: two int16 (its dimensions, unused), then each float4,
    big-endian."""
    return np.frombuffer(data, dtype=">f4", offset=4).astype(np.float32)


def rows_of(vectors: Sequence[bytes]) -> list[npt.NDArray[np.float32]]:
    """``floats_of`` for many ``vector_bytes`` of one length (one model's), decoded together:
    one array, a row each."""
    if not vectors:
        return []
    if len({len(data) for data in vectors}) > 1:
        return [floats_of(data) for data in vectors]
    # Each vector's 4-byte header takes one float's place: its column is dropped.
    joined = np.frombuffer(b"".join(vectors), dtype=">f4").reshape(len(vectors), -1)
    return list(joined[:, 1:].astype(np.float32))
