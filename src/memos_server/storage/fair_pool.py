"""A connection pool whose waiters are served first come, first served.

SQLAlchemy's asyncio pool keeps its idle connections in an ``asyncio.Queue``. That queue lets a
newcomer barge: a connection handed back wakes the longest waiter, but until that waiter runs,
any request that asks finds the connection idle and takes it; the woken waiter finds the queue
empty again and joins the *end* of the line. With more requests in flight than connections (128
clients on a pool of 20), some requests lose that race again and again: the load benchmark saw
searches wait out the whole ``POOL_TIMEOUT_S`` and answer 503 while the median waited 1-2 s.

Here a connection handed back while requests wait goes straight to the first of them, and a
newcomer takes an idle connection only when nobody waits, so a wait is bounded by the requests
ahead of it, not by luck.
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextlib import suppress
from typing import Any

from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import await_
from sqlalchemy.util.queue import Empty, Full, QueueCommon


class FairQueue(QueueCommon[Any]):
    """The idle connections, and the requests waiting for one in the order they came (the
    interface SQLAlchemy's pool uses)."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        self.maxsize = maxsize
        self.use_lifo = use_lifo
        self._idle: deque[Any] = deque()
        self._waiters: deque[asyncio.Future[Any]] = deque()

    def empty(self) -> bool:
        return not self._idle

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self._idle)

    def qsize(self) -> int:
        return len(self._idle)

    def put_nowait(self, item: Any) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(item)
                return
        if self.full():
            raise Full()
        self._idle.append(item)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        # The pool never waits to hand a connection back: it holds no more than maxsize.
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        if not self._idle:
            raise Empty()
        return self._idle.pop() if self.use_lifo else self._idle.popleft()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if self._idle or not block:
            return self.get_nowait()
        return await_(self._wait(timeout_s=timeout))

    async def _wait(self, *, timeout_s: float | None) -> Any:
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout_s):
                return await waiter
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                # Handed a connection just as the wait ended (timed out, or the request was
                # cancelled): the next in line gets it.
                self.put_nowait(waiter.result())
            else:
                waiter.cancel()
                with suppress(ValueError):  # not yet skipped by put_nowait
                    self._waiters.remove(waiter)
            if isinstance(error, TimeoutError):
                raise Empty() from None
            raise


class FairAsyncPool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio pool with ``FairQueue`` for its idle connections."""

    _queue_class = FairQueue
