"""An add's new rows, inserted on the driver: its messages, and its memories with their ADD
history rows.

A fast add writes a few messages and a memory per window. Through the ORM each row was an
object for the unit of work to sort, read column by column and flush, a third of the event
loop's time in an add (py-spy, 8 clients). Here the rows are plain column values, each table's
INSERT is built once for the driver (``storage.driver_sql``) and sent for every row in one
pipelined round trip; a memory and its history row are one statement (a data-modifying CTE), and
a vector goes as a ``real[]`` asyncpg encodes in C, cast to ``vector`` by Postgres, instead of
text printed in Python.

Both run inside the request's transaction, after its locks (a driver write with nothing before
it has SQLAlchemy begin the transaction first: ``storage.driver_sql``): nothing here is visible
before the commit. The message ids come from ``nextval`` on the table's sequence, so a role
that only has table grants needs ``USAGE`` on it (docs/operations.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import REAL, bindparam, cast, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from memos_server.storage.driver_sql import (
    DriverStatement,
    column_binds,
    driver_execute_many,
    driver_rows,
    driver_statement,
)
from memos_server.storage.models import Memory, MemoryHistory, Message, Project
from memos_server.storage.vocabulary import HistoryEvent

# Rows per pipelined batch: turning rows into parameters runs on the event loop, and a
# 32,000-character message makes over a hundred memories; between batches it serves others.
BATCH_ROWS = 16

# The project's next message numbers and as many new message ids, in one round trip: the
# project's row stays locked until the transaction ends, so adds to one project number their
# messages one after another (take this late in a short transaction).
_RESERVE = driver_statement(
    update(Project)
    .where(Project.id == bindparam("project_id"))
    .values(message_seq=Project.message_seq + bindparam("count"))
    .returning(
        Project.message_seq,
        select(func.array_agg(func.nextval(func.pg_get_serial_sequence("messages", "id"))))
        .select_from(func.generate_series(1, bindparam("count")))
        .scalar_subquery(),
    )
)


async def insert_messages(
    session: AsyncSession, project_id: uuid.UUID, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """Insert one project's messages (column values, every row the same columns, no ``id`` or
    ``seq``) in order, numbered in their project in that order; their ids, in order."""
    if not rows:
        return []
    reserved = await driver_rows(
        session, _RESERVE, {"project_id": project_id, "count": len(rows)}, writes=True
    )
    if not reserved:
        raise LookupError(f"no project {project_id}")
    last, ids = reserved[0]
    ids = sorted(ids)
    first = last - len(rows) + 1
    statement = _message_insert(tuple(rows[0]))
    numbered = [
        {**row, "id": id_, "seq": first + i}
        for i, (row, id_) in enumerate(zip(rows, ids, strict=True))
    ]
    for start in range(0, len(numbered), BATCH_ROWS):
        await driver_execute_many(session, statement, numbered[start : start + BATCH_ROWS])
    return ids


async def insert_memories(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert new memories (``services.memory_writer.new_memory_values`` of each, every row the
    same columns) with each one's ADD history row: its value, sources and task."""
    if not rows:
        return
    statement = _memory_insert(tuple(rows[0]))
    for start in range(0, len(rows), BATCH_ROWS):
        await driver_execute_many(session, statement, rows[start : start + BATCH_ROWS])


@lru_cache(maxsize=8)
def _message_insert(columns: tuple[str, ...]) -> DriverStatement:
    return driver_statement(
        insert(Message).values(column_binds(Message.__table__, ("id", "seq", *columns)))
    )


def memory_rows_insert(columns: tuple[str, ...]) -> Insert:
    """The INSERT of memory rows of these columns alone (``insert_memories`` sends it with each
    row's history row; the load benchmark's floor sends it bare)."""
    values: dict[str, Any] = column_binds(Memory.__table__, columns)
    if "embedding" in values:
        values["embedding"] = cast(bindparam("embedding", type_=ARRAY(REAL)), Vector())
    return insert(Memory).values(values)


@lru_cache(maxsize=8)
def _memory_insert(columns: tuple[str, ...]) -> DriverStatement:
    added = (
        memory_rows_insert(columns)
        .returning(
            Memory.id,
            Memory.project_id,
            Memory.memory_value,
            Memory.source_message_ids,
            Memory.task_id,
        )
        .cte("added")
    )
    history = insert(MemoryHistory).from_select(
        ["memory_id", "project_id", "event", "new_value", "source_message_ids", "task_id"],
        select(
            added.c.id,
            added.c.project_id,
            literal(HistoryEvent.ADD.value),
            added.c.memory_value,
            added.c.source_message_ids,
            added.c.task_id,
        ),
    )
    return driver_statement(history)
