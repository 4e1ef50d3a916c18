"""The async engine and session factory for one Postgres, and what counts as it being away."""

from __future__ import annotations

import time
from typing import Any, Literal

from asyncpg.exceptions import InterfaceError as DriverInterfaceError
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from memos_server.errors import ConfigurationError
from memos_server.metrics import count_connection_opened
from memos_server.settings import DatabaseSettings
from memos_server.storage.fair_pool import FairAsyncPool

# SQLSTATEs that say the server cannot serve a connection right now, not that a statement is
# wrong: class 08 (connection exception), 57P01 admin_shutdown (pg_ctl stop), 57P02
# crash_shutdown, 57P03 cannot_connect_now (starting up or shutting down), 53300
# too_many_connections.
_AWAY_STATES = ("57P01", "57P02", "57P03", "53300")
# 57014 query_canceled: the statement ran past ``statement_timeout`` (or was cancelled).
_TIMED_OUT = "57014"


def async_url(url: str) -> str:
    """``postgresql://`` (as users write it) → the asyncpg dialect SQLAlchemy needs."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigurationError(f"database URL is not a valid URL: {exc}") from None
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ConfigurationError("database URL must be a postgresql:// URL")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


_AWAY_ERRORS = (OSError, PoolTimeout, InterfaceError, OperationalError)


def _driver_closed(error: BaseException) -> bool:
    """asyncpg's own InterfaceError, from a statement run on the driver directly
    (``storage.driver_sql``), saying its connection is closed. Its other InterfaceErrors (a bad
    argument, another operation in progress) are faults in the caller, not an absent database.
    A connection lost mid-statement carries SQLSTATE 08003 and is seen below."""
    return isinstance(error, DriverInterfaceError) and "connection is closed" in str(error)


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database is out of reach (stopped, restarting, refusing
    connections, the connection dropped, no connection free in time) rather than a fault in
    what was asked of it, so that trying again shortly is the right answer.

    Looks along the chain of causes (not of errors merely raised while handling another):
    SQLAlchemy wraps the driver's error, which wraps the server's.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _AWAY_ERRORS) or _driver_closed(current):
            # OSError: refused, no socket file, connect timeout (TimeoutError is one).
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and (state.startswith("08") or state in _AWAY_STATES):
            return True
        current = current.__cause__ or getattr(current, "orig", None)
    return False


async def release_connection(session: AsyncSession) -> None:
    """Hand the session's connection back to the pool before a wait on something slow (the
    model): a connection held "idle in transaction" meanwhile is one another request cannot have.
    Ends the session's transaction, so only for read-only work; the session takes a connection
    again at its next statement, and what it loaded stays loaded (``expire_on_commit=False``)."""
    if session.in_transaction():
        await session.commit()


def _states(error: BaseException) -> list[str]:
    """The SQLSTATEs along the chain of causes (SQLAlchemy's error, the driver's, the server's)."""
    states: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str):
            states.append(state)
        current = current.__cause__ or getattr(current, "orig", None)
    return states


def refused_data(error: BaseException) -> bool:
    """Whether Postgres refused a value written (class 22, a data exception such as a vector
    it cannot read) or a row (class 23, an integrity violation such as a missing referent)."""
    return any(state[:2] in ("22", "23") for state in _states(error))


def timed_out(error: BaseException) -> bool:
    """Whether Postgres cancelled the statement: it ran past ``statement_timeout``."""
    return _TIMED_OUT in _states(error)


def timeout_settings(settings: DatabaseSettings) -> dict[str, str]:
    """Server settings for a connection: the statement timeout, if there is one."""
    if settings.statement_timeout_s <= 0:
        return {}
    return {"statement_timeout": str(max(1, round(settings.statement_timeout_s * 1000)))}


# The embedding model a process holds, told to Postgres on each of its connections: the database
# refuses that connection's vectors once it is bound to another model (migration 0009).
MODEL_SETTING = "memos.embedding_model"
MODEL_RETIRED_STATE = "ME001"


# What each engine's connections say they are (pg_stat_activity): the primary's, a replica's.
PRIMARY_APPLICATION = "memos-server"
REPLICA_APPLICATION = "memos-server-read"


_RETURNED = "memos_returned_at"


def check_at_checkout(engine: AsyncEngine, idle_s: float) -> None:
    """Check each pooled connection as a request takes it, so one the server dropped is replaced
    before use. One the server closed (terminated, restarted: the driver read the end of its
    socket) is replaced without a round trip; one idle ``idle_s`` or more is pinged too (a
    network that dropped it silently). A connection used moments ago under load costs nothing,
    where SQLAlchemy's ``pool_pre_ping`` spends a round trip (three with asyncpg) on every one."""

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _returned(_: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _taken(dbapi_connection: Any, record: Any, _: Any) -> None:
        returned = record.info.get(_RETURNED)
        if returned is None:
            return  # opened just now
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and driver.is_closed():
            raise DisconnectionError("the server closed this connection")
        if time.monotonic() - returned >= idle_s:
            try:
                dbapi_connection.ping()
            except Exception as error:
                raise DisconnectionError("the connection did not answer a ping") from error


def count_connections(engine: AsyncEngine, pool: Literal["primary", "replica"]) -> None:
    """Each connection the pool opens, in ``memos_db_connections_opened_total``."""

    @event.listens_for(engine.sync_engine.pool, "connect")
    def _opened(*_: Any) -> None:
        count_connection_opened(pool)


class Database:
    def __init__(
        self,
        url: str,
        settings: DatabaseSettings,
        *,
        embedding_model: str | None = None,
        application_name: str = PRIMARY_APPLICATION,
    ) -> None:
        self.connect_timeout_s = settings.connect_timeout_s
        server_settings = timeout_settings(settings)
        server_settings["application_name"] = application_name
        if embedding_model is not None:
            server_settings[MODEL_SETTING] = embedding_model
        self.engine: AsyncEngine = create_async_engine(
            async_url(url),
            # Requests waiting for a connection are served in the order they came
            # (``storage.fair_pool``): SQLAlchemy's own queue lets newcomers barge.
            poolclass=FairAsyncPool,
            # The connection returned last is taken first: under light load a request reuses
            # the backend that just served one (its caches warm) instead of cycling through
            # every idle one, and connections beyond what the load needs stay idle.
            pool_use_lifo=True,
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            # A pooled connection the server dropped (a restart) is noticed and replaced at
            # checkout, so the first requests after the database returns succeed: see
            # ``check_at_checkout`` (no round trip for a connection in use moments ago).
            pool_pre_ping=False,
            pool_timeout=settings.pool_timeout_s,
            # Every statement of a request or a job is bounded (Postgres cancels it past the
            # timeout); migrations run on their own engine, index builds lift it for themselves.
            connect_args={
                "timeout": settings.connect_timeout_s,
                "server_settings": server_settings,
            },
            echo=settings.echo,
            # A database error's text (logged with its traceback) would otherwise quote the
            # statement's parameters: messages, queries, memories.
            hide_parameters=not settings.echo,
        )
        check_at_checkout(self.engine, settings.ping_idle_s)
        count_connections(
            self.engine, "replica" if application_name == REPLICA_APPLICATION else "primary"
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._autocommit = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    def autocommit_session(self) -> AsyncSession:
        """A session whose every statement commits on its own: no BEGIN and COMMIT round trips,
        for a lookup of one statement (the API key's)."""
        return self._autocommit()

    async def dispose(self) -> None:
        await self.engine.dispose()
