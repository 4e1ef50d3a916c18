"""What every kind of job shares: the handler interface the worker runs, and how a job ends.

Kinds: ``refine`` (fine extraction of an add, ``services.refine``) and ``feedback`` (applying a
user's feedback, ``services.feedback``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.metrics import Backlog
from memos_server.services.extraction import Usage
from memos_server.storage.database import Database
from memos_server.storage.models import Task
from memos_server.storage.repositories.jobs import JobRepository
from memos_server.storage.repositories.tasks import TaskRepository

KINDS = ("refine", "feedback")

log = logging.getLogger(__name__)


class JobHandler(Protocol):
    # For the task's error when the job fails for good: "<what> failed (<reason>); <kept>".
    what: str
    kept: str

    async def run(self, task_id: uuid.UUID, job_id: int, worker: str) -> Task:
        """Do the task's work; the job is marked done in the transaction that applies it."""


class JobFailed(Exception):
    """A job did not finish. ``transient``: worth trying again later (the model was down)."""

    def __init__(self, reason: str, usage: Usage, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.usage = usage
        self.transient = transient


class LostJob(Exception):
    """The job was taken over by another worker (this one's lease ran out); nothing was written."""


async def mark_task(
    session: AsyncSession, task_id: uuid.UUID, status: str, usage: Usage, error: str | None
) -> Task:
    return await TaskRepository(session).finish(
        task_id,
        status=status,
        error=error,
        llm_calls=usage.calls,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
    )


async def read_backlog(database: Database, timeout_s: float) -> list[Backlog] | None:
    """The unfinished jobs by kind and status; None if the database does not answer in time
    (a scrape must not hang on it, nor fail because of it)."""
    try:
        async with asyncio.timeout(timeout_s), database.session() as session:
            rows = await JobRepository(session).backlog()
    except Exception as exc:  # TimeoutError included
        log.warning("job queue unreadable for /metrics: %s", type(exc).__name__)
        return None
    return [Backlog(*row) for row in rows]
