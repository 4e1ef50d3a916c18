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


@contextmanager
def driver_queries(service: ServiceThread) -> Iterator[list[str]]:
    """Each statement the service's pooled connections send meanwhile, in order: those sent on
    the driver itself and ``BEGIN``/``COMMIT``, as asyncpg logs them, and SQLAlchemy's own (which
    asyncpg runs as prepared statements, past its logger), as SQLAlchemy's cursor sends them;
    the background work's (the job queue, a key's last use) and the driver's own type lookups
    left out."""
    sent: list[str] = []

    def keep(query: str) -> None:
        text = " ".join(query.split())
        if " jobs" not in text and "api_keys" not in text and not text.startswith(_INTROSPECTION):
            sent.append(text)

    def logged(record: Any) -> None:
        keep(record.query)

    def executed(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        keep(statement)

    def taken(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(logged)

    engine = service.runtime.database.engine.sync_engine
    event.listen(engine.pool, "checkout", taken)
    event.listen(engine, "before_cursor_execute", executed)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", executed)
        event.remove(engine.pool, "checkout", taken)
