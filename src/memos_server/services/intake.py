"""The add-like intake: one skeleton for every request that stores something and queues its fine
job (add/message, add/feedback, and the turn chat stores through add/message's intake).

In order: the request's limits checked; its fingerprint taken and a repeat looked up (a repeat
answers the first request's task and stores nothing; ``find_repeat`` ends the look-up's
transaction); the text prepared off the event loop (cutting, tokenising, segmenting are CPU
work); the texts embedded with no database connection held; then one short transaction opens
the task (looking again under advisory locks, see ``services.tasks``) with the expiry of what it
makes (``services.retention``, the project's TTL read with the repeat check), writes the
request's rows
and, in fine mode, queues its job. Nothing is committed here: the caller's edge commits
(``api.transaction`` for a request).

A kind of request says what differs (``check``, ``identity``, ``prepare``, ``texts``, ``store``);
``take`` is the skeleton. Fine mode (an LLM configured) is the service's own state, so routes
never decide it.
"""

from __future__ import annotations

import asyncio
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.embedding import Embedder
from memos_server.services.retention import add_expiry
from memos_server.services.tasks import Added, Keeps, Request, TaskKind, find_repeat, open_task
from memos_server.settings import Settings
from memos_server.storage.models import Task
from memos_server.storage.repositories.jobs import JobRepository

R = TypeVar("R")  # the request
P = TypeVar("P")  # its text, prepared


class Intake(ABC, Generic[R, P]):
    """Takes in one kind of add-like request ``R``, whose text is prepared as ``P``."""

    kind: ClassVar[TaskKind]
    job: ClassVar[str]  # the job queued in fine mode

    def __init__(self, *, embedder: Callable[[], Embedder], settings: Settings, fine: bool) -> None:
        """``embedder``: the current model, asked at each request (it refuses once a reindex
        retired it); ``fine``: an LLM is configured, so each new request queues its job."""
        self._embedder = embedder
        self.settings = settings
        self.fine = fine

    async def take(
        self,
        session: AsyncSession,
        *,
        project_id: uuid.UUID,
        request: R,
        idempotency_key: str | None = None,
    ) -> Added:
        """Store the request (or answer the task of the request it repeats)."""
        embedder = self._embedder()
        self.check(request)
        user_id, conversation_id, fingerprint = self.identity(request)
        identity = Request(
            kind=self.kind,
            user_id=user_id,
            conversation_id=conversation_id,
            fingerprint=fingerprint,
            idempotency_key=idempotency_key,
        )
        window_s = self.settings.ingest.dedupe_window_s
        # A repeat is recognised before any expensive work (find_repeat ends its transaction).
        lookup = await find_repeat(session, project_id, identity, window_s)
        if lookup.repeat is not None:
            return lookup.repeat
        # Off the event loop, which meanwhile serves every other request.
        prepared = await asyncio.to_thread(self.prepare, request, embedder)
        # Embedded before touching the database again: no connection held while the model works.
        vectors = await embedder.embed(self.texts(prepared))
        # From now (not from before the model's work): a short ``ttl_seconds`` still lives.
        expires_at = add_expiry(self.settings.retention, lookup.ttl_days, self.info(request))
        refines = self.fine and self.refines(request)
        added = await open_task(
            session,
            project_id,
            identity,
            running=refines,
            dedupe_window_s=window_s,
            expires_at=expires_at,
            keeps=self.keeps(request),
        )
        if not added.created:
            return added
        await self.store(
            session,
            project_id=project_id,
            task=added.task,
            request=request,
            prepared=prepared,
            vectors=vectors,
            expires_at=expires_at,
        )
        if refines:
            await JobRepository(session).enqueue(
                added.task.id, project_id, user_id, self.settings.jobs.max_attempts, kind=self.job
            )
        return added

    @abstractmethod
    def check(self, request: R) -> None:
        """Refuse a request over the limits (``services.limits``)."""

    def refines(self, request: R) -> bool:
        """Whether the request needs its job in fine mode (a kind may say no for some)."""
        return True

    def info(self, request: R) -> Mapping[str, Any]:
        """The request's ``info``, where an add may ask for an expiry (``services.retention``);
        a kind without one: none."""
        return {}

    def keeps(self, request: R) -> Keeps:
        """What the request's task keeps for its fine job (``services.tasks.Keeps``); a kind
        without any: nothing."""
        return Keeps()

    @abstractmethod
    def identity(self, request: R) -> tuple[str, str, str]:
        """The request's user, conversation and fingerprint (everything it stores, digested)."""

    @abstractmethod
    def prepare(self, request: R, embedder: Embedder) -> P:
        """The request's text made ready to store: CPU work, run in a thread."""

    @abstractmethod
    def texts(self, prepared: P) -> list[str]:
        """What is embedded, one vector each, in order."""

    @abstractmethod
    async def store(
        self,
        session: AsyncSession,
        *,
        project_id: uuid.UUID,
        task: Task,
        request: R,
        prepared: P,
        vectors: Sequence[list[float]],
        expires_at: datetime | None,
    ) -> None:
        """Write the request's rows under its new task; its memories expire at ``expires_at``
        (None: never)."""
