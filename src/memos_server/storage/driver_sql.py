"""Statements a hot path sends straight to the driver (asyncpg), past SQLAlchemy's execution.

search/memory runs two or three statements per request. Through ``AsyncSession.execute`` each cost
about half a millisecond of Python beyond what asyncpg itself spends (the greenlet hop, the ORM
execution state, the cursor adapter, each row's result processing): more than Postgres took to
answer it. A ``DriverStatement`` is built from the same SQLAlchemy construct, compiled once for
asyncpg, and run with ``connection.fetch`` on the session's own connection: asyncpg prepares it
once per connection (its statement cache) and hands back its records.

What that gives up, and why it is safe where it is used:

- No result processing: values come as asyncpg decodes them. Times are clamped in the SELECT list
  (``ClientTime``'s column expression is part of the SQL), UUIDs are ``uuid.UUID``s.
- Bind processing as SQLAlchemy would do it: the few binds whose type has a processor (an
  array's, which makes a list of any sequence) go through it.
- No transaction of its own: SQLAlchemy's asyncpg adapter sends ``BEGIN`` before its first
  statement, and these are not its statements. A request that only runs them (a search) sends no
  ``BEGIN`` and no ``ROLLBACK``: at READ COMMITTED each statement sees the database as of its own
  start either way. Whatever the session runs through SQLAlchemy afterwards opens a transaction
  as usual (the per-user HNSW walk's ``SET LOCAL`` included). A write (an add's locks, task
  and rows: ``storage.repositories.tasks``, ``storage.repositories.added_rows``) runs inside the
  session's transaction, which SQLAlchemy's adapter begins first if nothing has.

Errors are the driver's (``asyncpg`` exceptions, which carry their SQLSTATE): the request layer's
handlers and ``storage.database.unavailable`` read the SQLSTATE along the chain of causes, so a
dropped connection is still a 503 and a statement past its timeout the timeout's answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, literal, select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.expression import ClauseElement

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class DriverStatement:
    """A statement as asyncpg's SQL (``$1``, ``$2``…), the names of its bind parameters in that
    order, the values of those fixed when it was built (literals), and the processors of those
    whose type has one."""

    sql: str
    names: tuple[str, ...]
    fixed: Mapping[str, Any]
    processors: Mapping[str, Callable[[Any], Any]]

    def arguments(self, parameters: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for ``parameters`` (named as the construct's binds)."""
        fixed, processors = self.fixed, self.processors
        values = [parameters[n] if n in parameters else fixed[n] for n in self.names]
        if processors:
            for i, name in enumerate(self.names):
                if name in processors:
                    values[i] = processors[name](values[i])
        return values


def driver_statement(construct: ClauseElement) -> DriverStatement:
    """``construct`` compiled once for asyncpg. Its binds are named (``bindparam``) or literal
    values; none may expand (``IN`` of a bound list: use ``= any_(...)``)."""
    compiled = construct.compile(dialect=_DIALECT)
    assert isinstance(compiled, SQLCompiler)
    names = tuple(compiled.positiontup or ())
    if any(bind.expanding for bind in compiled.binds.values()):
        raise ValueError("an expanding bind parameter cannot be compiled once")
    processors = {
        name: process
        for name, process in compiled._bind_processors.items()
        if name in names and callable(process)
    }
    fixed = {
        name: bind.value
        for name, bind in compiled.binds.items()
        if not bind.required and bind.callable is None
    }
    return DriverStatement(str(compiled), names, fixed, processors)


def column_binds(table: Any, names: Sequence[str]) -> dict[str, BindParameter[Any]]:
    """A named bind of its column's type for each of ``names`` (the VALUES of an INSERT built
    once). Refuses a list without a column that has a Python-side default: compiled once, the
    statement would bind that default's place as NULL for every row."""
    missing = sorted(c.name for c in table.c if c.default is not None and c.name not in names)
    if missing:
        raise ValueError(f"{table.name}: no value for {', '.join(missing)}")
    return {name: bindparam(name, type_=table.c[name].type) for name in names}


async def driver_rows(
    session: AsyncSession,
    statement: DriverStatement,
    parameters: Mapping[str, Any],
    *,
    writes: bool = False,
) -> Sequence[Any]:
    """``statement``'s rows (asyncpg records, which unpack like tuples), on ``session``'s
    connection. ``writes``: it changes the database, so it runs inside the session's transaction
    (see ``_driver``)."""
    driver = await _driver(session, writes)
    rows: Sequence[Any] = await driver.fetch(statement.sql, *statement.arguments(parameters))
    return rows


async def driver_execute_many(
    session: AsyncSession, statement: DriverStatement, rows: Sequence[Mapping[str, Any]]
) -> None:
    """``statement`` once per row of parameters, pipelined in one round trip (asyncpg's
    ``executemany``), on ``session``'s connection, inside its transaction."""
    if rows:
        driver = await _driver(session, True)
        await driver.executemany(statement.sql, [statement.arguments(row) for row in rows])


async def _driver(session: AsyncSession, writes: bool) -> Any:
    """The asyncpg connection under ``session``'s. For a write, inside the transaction
    SQLAlchemy begins on it: SQLAlchemy sends ``BEGIN`` before its own first statement, not
    before these, so a write sent before any of its statements would commit on its own; then
    its adapter is asked to begin first (its ``_start_transaction``, what it runs before its own
    first statement: ``test_added_rows`` checks a rollback still takes the rows back)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    if writes and not driver.is_in_transaction():
        adapter = raw.dbapi_connection
        start = getattr(adapter, "_start_transaction", None)
        if start is not None and getattr(adapter, "_transaction", False) is None:
            # The BEGIN SQLAlchemy's asyncpg adapter sends before its own first statement, sent
            # now: the adapter keeps it, so the session's commit or rollback ends it.
            await start()
        else:  # an adapter without that method: one of SQLAlchemy's statements goes first
            await connection.execute(select(literal(1)))
        if not driver.is_in_transaction():  # an AUTOCOMMIT connection: nothing would roll back
            raise RuntimeError("a driver write outside a transaction")
    return driver
