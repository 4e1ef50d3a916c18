"""Read replicas of the primary: their engines, their health, and where a read goes.

A read replica (``database.read_urls``) is a Postgres streaming the primary's WAL: it holds the
same rows, a little later. Reads that are the whole of a request (search/memory, get/memory,
get/message, the console) may run there; writes, jobs and anything in a write transaction stay on
the primary. Which requests read from a replica is decided by the route (``ReadRouter.session``),
never by looking at the SQL.

Each replica is checked every ``read_check_interval_s``: is it up, and how far behind (the
bytes of WAL it has yet to replay, from the primary's ``pg_current_wal_lsn()``, and the seconds
since its last replayed commit when it is behind at all). One that fails a check, or a
connection when a read wants it, is down: its reads go to the primary, and it is tried again
after 1 s, 2 s, 4 s... up to ``read_retry_max_s``; it gets reads again once a check passes. One
replaying more than ``read_max_lag_s`` behind gets none until it catches up.

Read-your-writes (``RecentWrites``): a user's reads within ``read_your_writes_s`` of that user's
last write in this process go to the primary, so an add is found by the search that follows it
even if the replica has not replayed it yet. Only this process knows of its writes: another API
process reads from a replica at once (docs/scaling.md says why that is accepted).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.metrics import count_read, count_replica_busy
from memos_server.settings import DatabaseSettings
from memos_server.storage.database import REPLICA_APPLICATION, Database, unavailable

log = logging.getLogger(__name__)

FIRST_RETRY_S = 1.0
_REPLICA_STATE = text(
    "SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replayed, "
    "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS since_commit"
)
_PRIMARY_LSN = text("SELECT pg_current_wal_lsn()::text")


def lsn_bytes(lsn: str) -> int:
    """``16/B374D848`` (a WAL position) → its byte offset."""
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


@dataclass
class ReplicaStatus:
    """One replica as ``/readyz`` shows it: by its place in ``read_urls`` (no host or password
    on an unauthenticated endpoint; the log names the host)."""

    replica: int  # 1-based, the order of read_urls
    up: bool
    lag_bytes: int | None  # WAL not replayed yet; None: unknown (down, or the primary is)
    lag_s: float | None  # 0 when nothing is left to replay


class Replica:
    def __init__(self, number: int, database: Database) -> None:
        self.number = number
        self.database = database
        url = database.engine.url
        self.name = f"{url.host or 'local socket'}:{url.port or 5432}/{url.database}"
        self.up = False  # until its first check passes: reads start on the primary
        self.failures = 0
        self.next_check = 0.0
        self.lag_bytes: int | None = None
        self.lag_s: float | None = None

    def status(self) -> ReplicaStatus:
        return ReplicaStatus(self.number, self.up, self.lag_bytes, self.lag_s)


class ReadReplicas:
    """The replicas' engines, their checks (``run``), and the choice of one for a read."""

    def __init__(
        self,
        primary: Database,
        urls: list[str],
        settings: DatabaseSettings,
        *,
        embedding_model: str | None = None,
    ) -> None:
        self.primary = primary
        self.settings = settings
        self.replicas = [
            Replica(
                number,
                Database(
                    url,
                    settings,
                    embedding_model=embedding_model,
                    application_name=REPLICA_APPLICATION,
                ),
            )
            for number, url in enumerate(urls, start=1)
        ]
        self._turn = itertools.count()
        self._wake = asyncio.Event()

    def pick(self) -> Replica | None:
        """The next usable replica, round robin; None: none is up and close enough."""
        usable = [
            r
            for r in self.replicas
            if r.up and (r.lag_s is None or r.lag_s <= self.settings.read_max_lag_s)
        ]
        if not usable:
            return None
        return usable[next(self._turn) % len(usable)]

    def down(self, replica: Replica, error: BaseException) -> None:
        """``replica`` failed: no reads until a check passes, tried again after the back-off."""
        if replica.up:
            log.warning("read replica %d (%s) is down: %s", replica.number, replica.name, error)
        replica.up = False
        replica.lag_bytes = replica.lag_s = None
        replica.failures += 1
        delay = min(self.settings.read_retry_max_s, FIRST_RETRY_S * 2 ** (replica.failures - 1))
        replica.next_check = time.monotonic() + delay
        self._wake.set()

    async def check(self, replica: Replica, primary_lsn: int | None) -> None:
        """Ask ``replica`` how far it has replayed; up if it answers, down if not."""
        try:
            async with (
                asyncio.timeout(self.settings.connect_timeout_s + 2),
                replica.database.session() as session,
            ):
                row = (await session.execute(_REPLICA_STATE)).one()
        except Exception as error:
            self.down(replica, error)
            return
        replayed = lsn_bytes(row.replayed) if row.replayed else None
        if primary_lsn is None or replayed is None:
            replica.lag_bytes = None  # the primary is away, or this is no standby
        else:
            replica.lag_bytes = max(0, primary_lsn - replayed)
        if not row.standby or replica.lag_bytes == 0:
            replica.lag_s = 0.0
        else:
            # Behind (or not known): the time since the last commit it replayed.
            replica.lag_s = None if row.since_commit is None else round(row.since_commit, 3)
        if not replica.up:
            log.info("read replica %d (%s) is up", replica.number, replica.name)
        replica.up = True
        replica.failures = 0
        replica.next_check = time.monotonic() + self.settings.read_check_interval_s

    async def _primary_lsn(self) -> int | None:
        try:
            async with asyncio.timeout(self.settings.connect_timeout_s + 2):
                async with self.primary.session() as session:
                    lsn = (await session.execute(_PRIMARY_LSN)).scalar_one()
        except Exception as error:
            if not unavailable(error) and not isinstance(error, TimeoutError):
                log.warning("read replicas: cannot read the primary's WAL position: %s", error)
            return None
        return lsn_bytes(lsn)

    async def run(self) -> None:
        """Check each replica when it is due, until cancelled."""
        while True:
            now = time.monotonic()
            due = [r for r in self.replicas if r.next_check <= now]
            if due:
                primary_lsn = await self._primary_lsn()
                await asyncio.gather(*(self.check(r, primary_lsn) for r in due))
            self._wake.clear()
            wait = min(r.next_check for r in self.replicas) - time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.01, wait))

    def statuses(self) -> list[ReplicaStatus]:
        return [r.status() for r in self.replicas]

    async def dispose(self) -> None:
        for replica in self.replicas:
            await replica.database.dispose()


def replicas_of(
    primary: Database, settings: DatabaseSettings, embedding_model: str | None
) -> ReadReplicas | None:
    """The replicas ``settings.read_urls`` names, if any (no connection made yet)."""
    if not settings.read_urls:
        return None
    urls = [url.get_secret_value() for url in settings.read_urls]
    return ReadReplicas(primary, urls, settings, embedding_model=embedding_model)


class RecentWrites:
    """Who wrote in this process within the last ``window_s`` seconds: a user of a project, or
    a project as a whole (a write that names no one user, such as delete/memory by ids).
    Entries older than the window are dropped as new ones come: memory stays bounded by the
    writes of one window."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._users: OrderedDict[Hashable, float] = OrderedDict()  # (project, user)
        self._whole: OrderedDict[Hashable, float] = OrderedDict()  # project, no one user
        self._any: OrderedDict[Hashable, float] = OrderedDict()  # project, whoever wrote

    def wrote(self, project_id: uuid.UUID, user_id: str | None) -> None:
        if self.window_s <= 0:
            return
        now = time.monotonic()
        self._note(self._whole if user_id is None else self._users, (project_id, user_id), now)
        self._note(self._any, project_id, now)

    def recent(self, project_id: uuid.UUID, user_id: str | None) -> bool:
        """Whether a read of ``user_id`` (None: of several users, e.g. an agent's memories)
        might miss a write of this process that a replica has not replayed yet."""
        if self.window_s <= 0:
            return False
        since = time.monotonic() - self.window_s
        if user_id is None:
            return self._any.get(project_id, -1.0) > since
        return (
            self._users.get((project_id, user_id), -1.0) > since
            or self._whole.get((project_id, None), -1.0) > since
        )

    def _note(self, marks: OrderedDict[Hashable, float], key: Hashable, now: float) -> None:
        marks[key] = now
        marks.move_to_end(key)
        since = now - self.window_s
        while marks:
            oldest = next(iter(marks))
            if marks[oldest] > since:
                break
            del marks[oldest]


class ReadRouter:
    """Where a read-only request's session goes: a replica if one is up and the user has not
    written here lately, else the primary. Without replicas, always the primary."""

    def __init__(
        self, primary: Database, replicas: ReadReplicas | None, recent: RecentWrites
    ) -> None:
        self.primary = primary
        self.replicas = replicas
        self.recent = recent

    def wrote(self, project_id: uuid.UUID, user_id: str | None) -> None:
        """A request of this process wrote for ``user_id`` (None: for the project, no one user):
        that user's reads stay on the primary for ``read_your_writes_s``."""
        if self.replicas is not None:
            self.recent.wrote(project_id, user_id)

    @asynccontextmanager
    async def session(
        self, *, project_id: uuid.UUID, user_id: str | None
    ) -> AsyncIterator[AsyncSession]:
        """A session for reads only, never committed (a replica refuses writes anyway)."""
        session = await self._replica_session(project_id, user_id)
        if session is None:
            count_read("primary")
            session = self.primary.session()
        else:
            count_read("replica")
        async with session:
            yield session

    async def _replica_session(
        self, project_id: uuid.UUID, user_id: str | None
    ) -> AsyncSession | None:
        if self.replicas is None or self.recent.recent(project_id, user_id):
            return None
        replica = self.replicas.pick()
        if replica is None:
            return None
        session = replica.database.session()
        try:
            # Connect now, while falling back costs nothing: a replica that went away since its
            # last check fails here (the pool's pre-ping), not in the middle of the request.
            await session.connection()
        except PoolTimeout:
            # Its pool had no connection free for ``pool_timeout_s``: busy, not down. The read
            # goes to the primary. Not sooner: the primary's pool also serves every request's
            # key lookup, and searches sent there while it had a connection free filled it (at
            # 128 clients the lookups then waited past the timeout: 6 errors in 1,067).
            await session.close()
            count_replica_busy()
            return None
        except Exception as error:
            # Whatever it is (away, refusing the login, the database not there yet): the
            # primary can answer this read, and the replica waits for a check to pass.
            await session.close()
            self.replicas.down(replica, error)
            return None
        return session
