"""What every kind of job shares: the handler interface the worker runs, and how a job ends.

Kinds: ``refine`` (fine extraction of an add, ``services.fine.refine``), ``knowledge`` (a
knowledge-base document, ``services.knowledge.ingest``) and ``feedback`` (applying a
user's feedback, ``services.fine.feedback``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.embedding import Embedder
from memos_server.llm import LLM, LLMUnavailable
from memos_server.llm.json_output import MalformedOutput, Usage
from memos_server.metrics import Backlog
from memos_server.settings import Settings
from memos_server.storage.database import Database
from memos_server.storage.models import Task
from memos_server.storage.repositories.jobs import JobRepository
from memos_server.storage.repositories.tasks import TaskRepository
from memos_server.storage.vocabulary import JobKind, JobStatus, TaskStatus

KINDS = tuple(JobKind)

log = logging.getLogger(__name__)


class JobHandler(Protocol):
    # For the task's error when the job fails for good: "<what> failed (<reason>); <kept>".
    what: str
    kept: str

    async def run(self, task_id: uuid.UUID, job_id: int, worker: str) -> Task:
        """Do the task's work; the job is marked done in the transaction that applies it."""

    async def gave_up(self, session: AsyncSession, task_id: uuid.UUID, reason: str) -> None:
        """The job failed for good, outside ``run``'s own handling (a crash, retried until no
        attempts were left): write what else tells of it, in the worker's transaction that
        marks the task failed."""


class JobFailed(Exception):
    """A job did not finish. ``transient``: worth trying again later (the model was down)."""

    def __init__(self, reason: str, usage: Usage, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.usage = usage
        self.transient = transient


class LostJob(Exception):
    """The job was taken over by another worker (this one's lease ran out), or deleted with its
    task (delete/user, delete/message); nothing was written."""


class ModelJob:
    """A job handler that works with the model: the parts every kind holds."""

    def __init__(
        self, database: Database, embedder: Embedder, llm: LLM, settings: Settings
    ) -> None:
        self.database = database
        self.embedder = embedder
        self.llm = llm
        self.settings = settings

    async def gave_up(self, session: AsyncSession, task_id: uuid.UUID, reason: str) -> None:
        """The task's failure says it all."""


@contextmanager
def model_failures(usage: Usage) -> Iterator[None]:
    """The model's failures as the job's: unreachable is worth trying again later, an answer
    it could not make usable is not."""
    try:
        yield
    except LLMUnavailable as error:
        raise JobFailed(str(error), usage, transient=True) from error
    except MalformedOutput as error:
        raise JobFailed(str(error), usage, transient=False) from error


async def hold_job(session: AsyncSession, job_id: int, worker: str) -> None:
    """Lock the job row before applying its result: if another worker took the job over (this
    one's lease ran out), it must not be applied twice; if it was deleted with its user or
    conversation, not at all."""
    if not await JobRepository(session).lock_if_held(job_id, worker):
        raise LostJob(f"job {job_id} is no longer held by {worker}")


async def complete_job(
    session: AsyncSession, task_id: uuid.UUID, job_id: int, usage: Usage, *, note: str | None = None
) -> Task:
    """Mark the task completed and the job done, in the transaction that applied the result.
    ``note``: what of the work could not be done (the task's ``error``, though it completed)."""
    finished = await mark_task(session, task_id, TaskStatus.COMPLETED, usage, note)
    await JobRepository(session).finish(job_id, JobStatus.DONE)
    return finished


async def mark_task(
    session: AsyncSession, task_id: uuid.UUID, status: TaskStatus, usage: Usage, error: str | None
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
