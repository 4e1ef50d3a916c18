"""What the service's pooled connections send through asyncpg, as the driver logs it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.support.service import ServiceThread

# asyncpg's own, once per connection: what a type it has not met yet is (and JIT off meanwhile).
_INTROSPECTION = (
    "WITH RECURSIVE typeinfo_tree",
    "SELECT current_setting('jit')",
    "SELECT set_config",
)


_TRANSACTION = ("BEGIN", "COMMIT", "ROLLBACK")


@contextmanager
def driver_queries(service: ServiceThread) -> Iterator[list[str]]:
    """Each statement the service's pooled connections send meanwhile, in order: those sent on
    the driver itself and ``BEGIN``/``COMMIT``, as asyncpg logs them (once done), and
    SQLAlchemy's own (which asyncpg runs as prepared statements, past its logger), as SQLAlchemy's
    cursor sends them. Left out: the background work's statements (the job queue, a key's last
    use), with the ``BEGIN`` and ``COMMIT`` of a transaction that ran nothing else, and the
    driver's own type lookups."""
    sent: list[str] = []
    # Per connection: whether it ran a statement kept since it was taken from the pool or its
    # last transaction ended, and the BEGIN it logged meanwhile (taken out again if the
    # transaction kept nothing).
    kept: dict[int, bool] = {}
    begun: dict[int, str] = {}
    loggers: set[int] = set()  # the connections given a logger
    listening = [True]

    def keep(connection: int, query: str) -> None:
        if not listening[0]:
            return
        text = " ".join(query.split())
        if " jobs" in text or "api_keys" in text or text.startswith(_INTROSPECTION):
            return
        word = text.split()[0].rstrip(";").upper()
        if word == "BEGIN":
            begun[connection] = text
        elif word in _TRANSACTION:
            begin = begun.pop(connection, None)
            if not kept.pop(connection, False):
                if begin is not None:
                    sent[:] = [q for q in sent if q is not begin]
                return
        else:
            kept[connection] = True
        sent.append(text)

    def executed(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        keep(id(connection.connection.dbapi_connection), statement)

    def taken(dbapi_connection: Any, *_: Any) -> None:
        key = id(dbapi_connection)
        kept.pop(key, None)  # a new user of the connection
        begun.pop(key, None)
        if key not in loggers:  # once per connection (it keeps a logger while it lives)
            loggers.add(key)
            dbapi_connection.driver_connection.add_query_logger(
                lambda record: keep(key, record.query)
            )

    engine = service.runtime.database.engine.sync_engine
    event.listen(engine.pool, "checkout", taken)
    event.listen(engine, "before_cursor_execute", executed)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", executed)
        event.remove(engine.pool, "checkout", taken)
        # Not removed from the service's thread's connections while they may be logging:
        # silenced instead.
        listening[0] = False
