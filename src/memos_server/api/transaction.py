"""Where a request's transaction ends: the one rule for the request layer.

A request gets one session (``request_session``, the ``SessionDep`` of ``api.deps``). What the
route and the services it calls write is committed when the route has returned, and rolled back
when it raised: routes and services never commit. The commit happens before the answer is sent
(the dependency's scope is ``"function"``: FastAPI leaves it once the route has returned, and
only then sends the response), so success is answered only once it is stored; a failed commit
is the request's error (503 when the database went away), and the client repeats the request.

A request that only reads (search/memory, get/memory, get/message, the console's lists) takes
its session from ``ReadSessions`` instead, once it knows whose data it reads: a read replica's
when one is up and that user has not written in this process lately, else the primary's
(``storage.replicas.ReadRouter``). Such a session is never committed. Routes that write tell the
router whose data they wrote (``ReadRouter.wrote``), before their commit.

A request that must end its transaction before its end (to give the connection back before a
slow wait, or to make what it stored visible before waking a worker) does so through
``commit_now``, and only there. Services reading before a slow wait let go of their connection
with ``storage.database.release_connection`` (read-only work: nothing to commit).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.database import Database
from memos_server.storage.replicas import ReadRouter


@asynccontextmanager
async def request_session(database: Database) -> AsyncIterator[AsyncSession]:
    """The request's session: committed once the route returns, rolled back if it raises (an
    error leaves the block before the commit, and closing the session rolls back)."""
    async with database.session() as session:
        yield session
        await session.commit()


async def commit_now(session: AsyncSession) -> None:
    """End the request's transaction early: commit what it wrote so far and hand the connection
    back to the pool. For the moments a request waits on something slow (the model, a job) or
    lets another process see what it stored (waking the worker). The session stays usable: it
    takes a connection again at its next statement, and what it loaded stays loaded
    (``expire_on_commit=False``); the request's end commits whatever follows."""
    await session.commit()


class ReadSessions:
    """A read-only request's sessions (``ReadsDep``): each on a replica or the primary, as the
    router says for the user read; all closed when the request ends."""

    def __init__(self, router: ReadRouter, stack: AsyncExitStack) -> None:
        self._router = router
        self._stack = stack

    async def session(self, *, project_id: uuid.UUID, user_id: str | None) -> AsyncSession:
        """A session to read ``user_id``'s data (None: several users', or the project's)."""
        return await self._stack.enter_async_context(
            self._router.session(project_id=project_id, user_id=user_id)
        )


@asynccontextmanager
async def read_sessions(router: ReadRouter) -> AsyncIterator[ReadSessions]:
    async with AsyncExitStack() as stack:
        yield ReadSessions(router, stack)
