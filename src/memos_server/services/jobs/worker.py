"""The job runner: claims jobs from Postgres and runs them, any number per process.

Each job's ``kind`` names its handler (``services.jobs.JobHandler``): ``refine`` (fine extraction
of an add) and ``feedback`` (applying a user's feedback).

A worker claims a job, renews its lease while it runs, and records the outcome: the job's own
transaction marks it done; a transient failure (the model down) is retried with exponential
back-off until ``max_attempts``; a permanent one (the model's answers unusable) fails the task at
once. Either way the task says why, and the raw messages and fast memories stay.

An idle worker looks for jobs when told one may be claimable: by this process (``wake``, an add
that queued one), or by any process through ``NOTIFY memos_jobs`` (``storage.notifications``,
migration 0025). Otherwise it looks when the next retry or lease falls due, and at least every
``listen_check_s``; while it cannot hear notifications, every ``poll_interval_s``.

While the database is away (stopped, restarting) the worker logs a warning, looks for jobs less
often (backing off to ``AWAY_POLL_MAX_S``) and carries on when it returns; a job whose outcome
could not be written runs again once its lease ends.

On ``stop`` (SIGTERM) it claims nothing more, gives the jobs in hand ``shutdown_grace_s`` to
finish, and hands the rest back untried so another worker takes them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import uuid
from collections.abc import Mapping

from memos_server.llm.json_output import Usage
from memos_server.services.jobs.handlers import JobFailed, JobHandler, LostJob, mark_task
from memos_server.settings import JobSettings
from memos_server.storage.database import Database, unavailable
from memos_server.storage.models import Job
from memos_server.storage.repositories.jobs import JobRepository
from memos_server.storage.vocabulary import JobStatus, TaskStatus

log = logging.getLogger(__name__)

AWAY_POLL_MAX_S = 30.0  # longest pause between claims while the database is unreachable
DUE_MARGIN_S = 0.01  # a retry's claim waits this much past its run_after (Postgres's clock)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self, database: Database, handlers: Mapping[str, JobHandler], settings: JobSettings
    ) -> None:
        self.database = database
        self.handlers = dict(handlers)
        self.settings = settings
        self.name = worker_name()
        self._wake = asyncio.Event()
        self._hears = False  # notifications of queued jobs arrive (``listening``)
        self._stopping = False
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._running: dict[int, asyncio.Task[None]] = {}
        self._loop: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name=f"worker {self.name}")
        log.info("worker %s started (%d at a time)", self.name, self.settings.concurrency)

    def wake(self) -> None:
        """A job may be claimable now: look at once."""
        self._wake.set()

    def listening(self, on: bool) -> None:
        """Whether notifications of queued jobs reach this worker. Either way it looks at once:
        a job may have been queued while it could not hear, and a deaf worker's pause is the
        shorter ``poll_interval_s``."""
        self._hears = on
        self._wake.set()

    async def wait(self) -> None:
        """Until the worker stops (used by ``memos-server worker``)."""
        if self._loop is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        in_hand = dict(self._running)
        if in_hand:
            log.info("worker %s: finishing %d job(s) before exit", self.name, len(in_hand))
            await asyncio.wait(in_hand.values(), timeout=self.settings.shutdown_grace_s)
        for job_id, task in in_hand.items():
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await self._release(job_id)
        log.info("worker %s stopped", self.name)

    async def _run(self) -> None:
        failures = 0  # claims failed in a row: the database is away, look less often
        while not self._stopping:
            await self._slots.acquire()
            # Cleared before the claim, so that a wake during it (a job committed after the
            # claim's snapshot) makes it look again.
            self._wake.clear()
            try:
                job, due_s = await self._claim()
            except Exception as error:
                self._slots.release()
                failures += 1
                delay = min(self.settings.poll_interval_s * 2 ** min(failures, 10), AWAY_POLL_MAX_S)
                if unavailable(error):
                    log.warning(
                        "worker %s: database unavailable (%s); looking again in %.1f s",
                        self.name,
                        type(error).__name__,
                        delay,
                    )
                else:
                    log.exception("worker %s: cannot claim a job", self.name)
                await self._idle(delay)
                continue
            if failures:
                log.info("worker %s: database reachable again", self.name)
                failures = 0
            if job is None:
                self._slots.release()
                await self._idle(self._pause(due_s))
                continue
            task = asyncio.create_task(self._execute(job), name=f"job {job.id}")
            self._running[job.id] = task
            task.add_done_callback(functools.partial(self._done, job.id))

    def _done(self, job_id: int, _: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)
        self._slots.release()

    async def _idle(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=timeout_s)

    def _pause(self, due_s: float | None) -> float:
        """How long to wait, with nothing claimable, before looking again unwoken."""
        poll = self.settings.poll_interval_s
        if not self._hears:
            return poll
        check = self.settings.listen_check_s
        if due_s is None:
            return check
        # Overdue yet not claimable (another worker is claiming it): as when deaf.
        return min(due_s + DUE_MARGIN_S if due_s > 0 else poll, check)

    async def _claim(self) -> tuple[Job | None, float | None]:
        """The job claimed, or none and (when it hears notifications) the seconds until one
        may fall due (``JobRepository.next_due_s``)."""
        async with self.database.session() as session:
            jobs = JobRepository(session)
            job = await jobs.claim(self.name, self.settings.lease_s, list(self.handlers))
            due_s = None
            if job is None and self._hears:
                due_s = await jobs.next_due_s(list(self.handlers))
            await session.commit()
        return job, due_s

    async def _execute(self, job: Job) -> None:
        handler = self.handlers.get(job.kind)
        if handler is None:
            reason = f"this worker cannot run {job.kind!r} jobs (a newer version queued it?)"
            await self._failed(job, JobFailed(reason, Usage(), transient=True))
            return
        heartbeat = asyncio.create_task(self._heartbeat(job.id))
        try:
            await handler.run(job.task_id, job.id, self.name)
            log.info("job %d (%s, task %s) done", job.id, job.kind, job.task_id)
        except JobFailed as failure:
            await self._failed(job, failure)
        except LostJob:
            log.warning("job %d was deleted or taken over by another worker; dropped", job.id)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if unavailable(error):
                reason = "database unavailable"
            else:
                log.exception("job %d (task %s) crashed", job.id, job.task_id)
                reason = f"internal error: {type(error).__name__}"
            await self._failed(job, JobFailed(reason, Usage(), transient=True))
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, job_id: int) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_s / 3)
            try:
                async with self.database.session() as session:
                    held = await JobRepository(session).renew(
                        job_id, self.name, self.settings.lease_s
                    )
                    await session.commit()
            except Exception:
                log.warning("job %d: could not renew its lease", job_id)
                continue
            if not held:
                return

    async def _failed(self, job: Job, failure: JobFailed) -> None:
        try:
            await self._record_failure(job, failure)
        except Exception as error:
            if not unavailable(error):
                raise
            # The job stays claimed; once its lease runs out a worker takes it again.
            log.warning(
                "job %d (task %s): %s; the database cannot record it now, so the job runs "
                "again when its lease ends",
                job.id,
                job.task_id,
                failure.reason,
            )

    async def _record_failure(self, job: Job, failure: JobFailed) -> None:
        retry = failure.transient and job.attempts < job.max_attempts
        async with self.database.session() as session:
            jobs = JobRepository(session)
            if not await jobs.lock_if_held(job.id, self.name):
                return
            if retry:
                delay = min(
                    self.settings.retry_max_s,
                    self.settings.retry_base_s * 2 ** (job.attempts - 1),
                )
                error = (
                    f"attempt {job.attempts} of {job.max_attempts} failed ({failure.reason}); "
                    f"retrying in {delay:.0f} s"
                )
                await jobs.retry_later(job.id, failure.reason, delay)
                await mark_task(session, job.task_id, TaskStatus.RUNNING, failure.usage, error)
            else:
                handler = self.handlers.get(job.kind)
                what, kept = (handler.what, handler.kept) if handler else (job.kind, "")
                error = f"{what} failed ({failure.reason})" + (f"; {kept}" if kept else "")
                await jobs.finish(job.id, JobStatus.FAILED, failure.reason)
                await mark_task(session, job.task_id, TaskStatus.FAILED, failure.usage, error)
                if handler is not None:
                    await handler.gave_up(session, job.task_id, failure.reason)
            await session.commit()
        log.warning("job %d (task %s): %s", job.id, job.task_id, error)

    async def _release(self, job_id: int) -> None:
        try:
            async with self.database.session() as session:
                await JobRepository(session).release(job_id, self.name)
                await session.commit()
        except Exception:
            log.warning("job %d could not be handed back; its lease will run out", job_id)
