"""The SQL of export and import (``services/portability``).

An export reads one snapshot (a repeatable-read, read-only transaction) in keyset pages: each page
starts after the last key of the one before, so a page costs the same at the start of a project
as at its end and nothing holds more than a page. Vectors are read as Postgres prints them
(``[0.1,0.2,...]``), which is already JSON: the export writes them unparsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from pgvector import Vector
from sqlalchemy import Table, exists, func, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.database import MODEL_SETTING
from memos_server.storage.models import (
    Base,
    Feedback,
    ImportSource,
    KnowledgeBase,
    KnowledgeFile,
    KnowledgePassage,
    Memory,
    MemoryHistory,
    Message,
    Profile,
    ProfileTemplate,
    Project,
    ServiceMeta,
    Task,
)

Identified = (
    type[Memory]
    | type[Task]
    | type[KnowledgeBase]
    | type[KnowledgeFile]
    | type[KnowledgePassage]
    | type[ProfileTemplate]
    | type[Profile]
)


class ExportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def snapshot(self) -> None:
        """Make this transaction read one consistent state of the database (the first
        statement of the transaction)."""
        await self.session.execute(
            text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        )

    async def deleted_history_count(self, project_id: uuid.UUID) -> int:
        return int(
            await self.session.scalar(
                select(func.count(func.distinct(MemoryHistory.memory_id))).where(
                    MemoryHistory.project_id == project_id, ~_memory_exists()
                )
            )
            or 0
        )


def _memory_exists() -> Any:
    return exists().where(Memory.id == MemoryHistory.memory_id)


class BatchFailed(Exception):
    """A batch's insert failed (``error``); ``label`` says which batch."""

    def __init__(self, label: str, error: DBAPIError) -> None:
        super().__init__(label)
        self.label = label
        self.error = error


IMPORT_LOCK = 0x6D656D6F5F696D70  # pg advisory lock key: one import at a time


class ImportRepository:
    """The import's reads and writes on one session. A write (``store``) runs while the caller
    goes on preparing the next batch (Python's work and Postgres's overlap: two cores, not one
    after the other); every statement after it waits for it first, so the session still runs
    one statement at a time. Its failure is raised by that next statement, or ``settle``, as
    ``BatchFailed`` naming the batch (``label``)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.pending: asyncio.Task[None] | None = None
        self.label: Any = None  # what the caller calls the batch being stored

    async def abandon(self) -> None:
        """Stop the write under way (the transaction is being given up)."""
        pending, self.pending = self.pending, None
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending

    async def settle(self) -> None:
        """Wait for the write under way, if any."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        try:
            await pending
        except DBAPIError as error:
            raise BatchFailed(pending.get_name(), error) from error

    async def _execute(self, statement: Any, *args: Any) -> Any:
        await self.settle()
        return await self.session.execute(statement, *args)

    async def _scalar(self, statement: Any) -> Any:
        await self.settle()
        return await self.session.scalar(statement)

    async def owners(
        self, model: Identified, ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, uuid.UUID]:
        """The project of each of these ids that a row of ``model`` has, by id."""
        if not ids:
            return {}
        rows = await self._execute(
            select(model.id, model.project_id).where(model.id.in_(list(ids)))
        )
        return {id_: project for id_, project in rows}

    async def one_import_at_a_time(self) -> None:
        """Until the transaction ends, no other import runs: an import looks whether an exported
        id is free and writes it later, and two imports of one file (into two projects) would
        both find it free."""
        await self._execute(text(f"SELECT pg_advisory_xact_lock({IMPORT_LOCK})"))

    async def defer_model_check(self) -> None:
        """Until the transaction ends, the model guard (migration 0009) does not look up the
        bound model for each memory written (a query per row: a third of an insert's cost in
        Postgres); the import asks once, at its end (``bound_model``)."""
        await self._execute(text(f"SELECT set_config('{MODEL_SETTING}', '', true)"))

    async def bound_model(self, key: str) -> str | None:
        """The model the database is bound to (``service_meta``'s ``key``), its row locked until
        the transaction ends: a reindex cannot bind another model before this one commits (its
        swap waits for this transaction's rows anyway: it locks the tables)."""
        value: str | None = await self._scalar(
            select(ServiceMeta.value).where(ServiceMeta.key == key).with_for_update(read=True)
        )
        return value

    async def message_base(self, project_id: uuid.UUID, source: str) -> int | None:
        base: int | None = await self._scalar(
            select(ImportSource.message_base).where(
                ImportSource.project_id == project_id, ImportSource.source == source
            )
        )
        return base

    async def last_message_number(self, project_id: uuid.UUID) -> int:
        """The project's last message number, its row locked until the transaction ends."""
        number = await self._scalar(
            select(Project.message_seq).where(Project.id == project_id).with_for_update()
        )
        assert number is not None, f"no project {project_id}"
        return int(number)

    async def remember_source(self, project_id: uuid.UUID, source: str, base: int) -> None:
        await self._execute(
            insert(ImportSource)
            .values(project_id=project_id, source=source, message_base=base)
            .on_conflict_do_nothing()
        )

    async def reserve_numbers(self, project_id: uuid.UUID, last: int) -> None:
        """Numbers up to ``last`` are taken: new messages get numbers after them."""
        await self._execute(
            update(Project)
            .where(Project.id == project_id)
            .values(message_seq=func.greatest(Project.message_seq, last))
        )

    async def messages_by_number(
        self, project_id: uuid.UUID, numbers: Collection[int]
    ) -> dict[int, int]:
        """The service's ids of the project's messages with these numbers, by number."""
        if not numbers:
            return {}
        rows = await self._execute(
            select(Message.seq, Message.id).where(
                Message.project_id == project_id, Message.seq.in_(list(numbers))
            )
        )
        return {seq: id_ for seq, id_ in rows}

    async def message_digests(
        self, project_id: uuid.UUID, numbers: Collection[int]
    ) -> dict[int, str]:
        """``message_digest`` of the project's messages with these numbers, by number."""
        if not numbers:
            return {}
        rows = await self._execute(
            select(
                Message.seq,
                func.md5(
                    func.concat_ws("\x1f", Message.user_id, Message.conversation_id, Message.role)
                    + "\x1f"
                    + Message.content
                ),
            ).where(Message.project_id == project_id, Message.seq.in_(list(numbers)))
        )
        return {seq: digest for seq, digest in rows}

    async def feedback_tasks(
        self, project_id: uuid.UUID, task_ids: Collection[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Which of these tasks have their feedback stored in the project."""
        if not task_ids:
            return set()
        rows = await self._execute(
            select(Feedback.task_id).where(
                Feedback.project_id == project_id, Feedback.task_id.in_(list(task_ids))
            )
        )
        return set(rows.scalars())

    async def bound_subjects(
        self, template_ids: Collection[uuid.UUID]
    ) -> set[tuple[uuid.UUID, str, str]]:
        """The (template, subject kind, subject id) of every profile bound to these templates."""
        if not template_ids:
            return set()
        rows = await self._execute(
            select(Profile.template_id, Profile.subject_kind, Profile.subject_id).where(
                Profile.template_id.in_(list(template_ids))
            )
        )
        return {(t, kind, subject) for t, kind, subject in rows}

    async def with_history(
        self, project_id: uuid.UUID, memory_ids: Collection[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Which of these memory ids have history rows in the project."""
        if not memory_ids:
            return set()
        rows = await self._execute(
            select(func.distinct(MemoryHistory.memory_id)).where(
                MemoryHistory.project_id == project_id,
                MemoryHistory.memory_id.in_(list(memory_ids)),
            )
        )
        return set(rows.scalars())

    async def store(self, rows: Sequence[Base | tuple[Any, dict[str, Any]]]) -> None:
        """Insert these new rows (ORM objects, or a table and a row's values), each table's in
        one statement, in the order given.

        The rows are built as any other (``memory_writer`` makes memories and their history)
        but never enter the session: the unit of work's bookkeeping cost more than the inserts,
        and nothing reads them back. A batch goes to Postgres as one ``INSERT ... SELECT FROM
        json_to_recordset(...)`` of the rows as one JSON document (``_json_rows``): one
        statement a batch, where an executemany ran the insert once per row and SQLAlchemy bound
        every value of every row in Python first (a tenth of a millisecond a row, on the
        import's one busy core)."""
        tables: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
        for row in rows:
            if isinstance(row, tuple):
                table, values = row
            else:
                table = row.__table__
                values = {k: v for k, v in vars(row).items() if not k.startswith("_")}
            tables.setdefault((table, tuple(values)), []).append(values)
        statements = [
            _json_rows(table, names, values_list) for (table, names), values_list in tables.items()
        ]
        await self.settle()

        async def write() -> None:
            for statement, arrays in statements:
                await self.session.execute(statement, arrays)

        self.pending = asyncio.create_task(write(), name=str(self.label))


def _json_rows(
    table: Table, names: Sequence[str], rows: list[dict[str, Any]]
) -> tuple[Any, dict[str, Any]]:
    """One INSERT of these rows (all with the values ``names``) and its parameters: the rows as
    one JSON document, read by Postgres with ``json_to_recordset`` into the columns' own types
    (each value through its type's input, as a typed literal would be), and each vector column
    beside it as one array of pgvector's text (most of a row's bytes: not escaped into the JSON,
    zipped back by ``ROWS FROM``). Python runs ``json.dumps`` (in C) over the batch and one
    conversion per column (ids and times to their text): asyncpg's binding of one array per
    column checked every element of every array in Python, a quarter of an import's time. A
    column left out that has a default of the model's gets that default."""
    columns = [table.c[name] for name in names]
    defaults = [c for c in table.c if c.key not in names and _python_default(c)]
    listed, selected, declared, vectors, functions = [], [], [], [], []
    keys: list[str] = []
    fields: list[list[Any]] = []
    params: dict[str, Any] = {}
    for n, column in enumerate([*columns, *defaults]):
        kind = column.type.compile(dialect=_DIALECT)
        values = (
            [row[column.key] for row in rows]
            if n < len(columns)
            else [_default(column) for _ in rows]
        )
        listed.append(f'"{column.name}"')
        if kind.startswith("VECTOR"):
            params[f"v{n}"] = [None if v is None else _vector_text(v) for v in values]
            functions.append(f"unnest(CAST(:v{n} AS text[]))")
            vectors.append(f"v{n}")
            selected.append(f"CAST(v{n} AS {kind})")
            continue
        convert = _TO_JSON.get(kind)
        fields.append([None if v is None else convert(v) for v in values] if convert else values)
        keys.append(f"c{n}")
        declared.append(f"c{n} {kind}")
        # JSON's None is JSON null, as SQLAlchemy writes it (``none_as_null`` unset); a JSON
        # null read into a json column is SQL NULL.
        keep_none = kind in ("JSON", "JSONB") and not getattr(column.type, "none_as_null", False)
        selected.append(f"coalesce(c{n}, 'null'::{kind.lower()})" if keep_none else f"c{n}")
    params["rows"] = json.dumps(
        [dict(zip(keys, row, strict=True)) for row in zip(*fields, strict=True)],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    functions.insert(0, f"json_to_recordset(CAST(:rows AS json)) AS ({', '.join(declared)})")
    statement = text(
        f'INSERT INTO "{table.name}" ({", ".join(listed)}) '  # noqa: S608 (our own names)
        f"SELECT {', '.join(selected)} FROM ROWS FROM ({', '.join(functions)}) "
        f"AS r({', '.join([*keys, *vectors])})"
    )
    return statement, params


def _python_default(column: Any) -> bool:
    return column.default is not None and not column.primary_key and not column.server_default


def _default(column: Any) -> Any:
    default: Any = column.default
    return default.arg(None) if default.is_callable else default.arg


def _vector_text(value: Any) -> str:
    if isinstance(value, Vector):  # VectorText too: the file's text, unparsed
        return value.to_text()
    floats = value.tolist() if hasattr(value, "tolist") else value  # numpy, or a list
    return "[" + ",".join(map(repr, (float(x) for x in floats))) + "]"


def _uuids(values: Sequence[uuid.UUID]) -> list[str]:
    return [str(v) for v in values]


# How a column's values are written in the JSON (others as they are: text, numbers, lists of
# text or numbers, JSON).
_TO_JSON: dict[str, Callable[[Any], Any]] = {
    "UUID": str,
    "UUID[]": _uuids,
    "TIMESTAMP WITH TIME ZONE": datetime.isoformat,
    "BYTEA": lambda data: "\\x" + bytes(data).hex(),  # bytea's hex input
}


_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
