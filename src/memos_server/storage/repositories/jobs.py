"""The job queue: a Postgres table claimed with FOR UPDATE SKIP LOCKED.

Only the oldest unfinished job of each (project, user) can be claimed, so one user's jobs run in
the order their adds and feedback arrived (reconciliation depends on it), while different users'
jobs run in parallel. A claimed job carries a lease; a worker that dies stops renewing it, and
when it runs out the job is claimable again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.models import Job
from memos_server.storage.vocabulary import JobKind, JobStatus

_CLAIM = text(
    """
    WITH next AS (
        SELECT j.id FROM jobs j
        WHERE ((j.status = 'queued' AND j.run_after <= now())
               OR (j.status = 'running' AND j.lease_until < now()))
          AND j.kind = ANY(CAST(:kinds AS text[]))
          AND NOT EXISTS (
              SELECT 1 FROM jobs earlier
              WHERE earlier.project_id = j.project_id
                AND earlier.user_id = j.user_id
                AND earlier.id < j.id
                AND earlier.status IN ('queued', 'running'))
        ORDER BY j.id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
    UPDATE jobs SET status = 'running',
                    attempts = jobs.attempts + 1,
                    locked_by = :worker,
                    lease_until = now() + make_interval(secs => :lease),
                    updated_at = now()
    FROM next WHERE jobs.id = next.id
    RETURNING jobs.id
    """
)

# Seconds until a job not claimable now may be: a retry's run_after, or a lease that may lapse
# (NULL: no unfinished job of these kinds). A queued job waiting only for the same user's earlier
# one needs no timer: that one ending notifies (migration 0025).
_NEXT_DUE = text(
    """
    SELECT extract(epoch FROM least(
        (SELECT min(run_after) FROM jobs
         WHERE status = 'queued' AND run_after > now() AND kind = ANY(CAST(:kinds AS text[]))),
        (SELECT min(lease_until) FROM jobs
         WHERE status = 'running' AND kind = ANY(CAST(:kinds AS text[])))
    ) - now())::float
    """
)

# Reads only the partial index of unfinished jobs, so it stays cheap however many are done.
_BACKLOG = text(
    """
    SELECT kind, status, count(*) AS jobs,
           extract(epoch FROM now() - min(created_at))::float AS oldest_age_s
    FROM jobs WHERE status IN ('queued', 'running')
    GROUP BY kind, status
    """
)


class JobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def enqueue(
        self,
        task_id: uuid.UUID,
        project_id: uuid.UUID,
        user_id: str,
        max_attempts: int,
        kind: str = JobKind.REFINE,
    ) -> Job:
        job = Job(
            task_id=task_id,
            project_id=project_id,
            user_id=user_id,
            kind=kind,
            status=JobStatus.QUEUED,
            attempts=0,
            max_attempts=max_attempts,
        )
        self.session.add(job)
        await self.session.flush()
        return job

    async def claim(self, worker: str, lease_s: float, kinds: Sequence[str]) -> Job | None:
        """The next job of one of ``kinds`` (those the worker can run: a service without an LLM
        runs knowledge-base documents only and leaves fine extraction to workers that can)."""
        claimed = await self.session.execute(
            _CLAIM, {"worker": worker, "lease": lease_s, "kinds": list(kinds)}
        )
        job_id = claimed.scalar_one_or_none()
        return None if job_id is None else await self.session.get(Job, job_id)

    async def next_due_s(self, kinds: Sequence[str]) -> float | None:
        """Seconds until a job of ``kinds`` not claimable now may be (``None``: no unfinished
        job of those kinds)."""
        due = await self.session.execute(_NEXT_DUE, {"kinds": list(kinds)})
        value: float | None = due.scalar_one()
        return value

    async def backlog(self) -> list[tuple[str, str, int, float]]:
        """(kind, status, jobs, age of the oldest in seconds) of the unfinished jobs."""
        rows = await self.session.execute(_BACKLOG)
        return [(row.kind, row.status, row.jobs, row.oldest_age_s) for row in rows]

    async def lock_if_held(self, job_id: int, worker: str) -> bool:
        """Lock the job row for this transaction if ``worker`` still holds the job."""
        result = await self.session.execute(
            select(Job.id)
            .where(Job.id == job_id, Job.locked_by == worker, Job.status == JobStatus.RUNNING)
            .with_for_update()
        )
        return result.scalar_one_or_none() is not None

    async def renew(self, job_id: int, worker: str, lease_s: float) -> bool:
        """Extend the lease; False if the job is no longer this worker's."""
        result = await self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.locked_by == worker, Job.status == JobStatus.RUNNING)
            .values(lease_until=func.now() + timedelta(seconds=lease_s))
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def finish(self, job_id: int, status: JobStatus, error: str | None = None) -> None:
        """Done or failed for good; ``locked_by`` keeps the worker that ran it last."""
        await self.session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status=status,
                last_error=error,
                lease_until=None,
                updated_at=func.now(),
            )
        )

    async def retry_later(self, job_id: int, error: str, delay_s: float) -> None:
        await self.session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status=JobStatus.QUEUED,
                last_error=error,
                run_after=func.now() + timedelta(seconds=delay_s),
                locked_by=None,
                lease_until=None,
                updated_at=func.now(),
            )
        )

    async def release(self, job_id: int, worker: str) -> None:
        """Hand a job back untried (shutdown): claimable at once, the attempt not counted."""
        await self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.locked_by == worker, Job.status == JobStatus.RUNNING)
            .values(
                status=JobStatus.QUEUED,
                attempts=Job.attempts - 1,
                locked_by=None,
                lease_until=None,
                run_after=func.now(),
                updated_at=func.now(),
            )
        )
