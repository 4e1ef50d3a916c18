"""Migration 0025: a job that may have become claimable notifies ``memos_jobs`` as its
transaction commits, whoever wrote it (plain SQL here); claiming it or renewing its lease is
silent. Workers hear it (``services.jobs.worker``; ``test_jobs`` runs a worker process on it)."""

from __future__ import annotations

import asyncio

import asyncpg

from memos_server.storage.migrations import upgrade_database
from memos_server.storage.notifications import JOBS
from tests.support.database import fresh_database, new_api_key, project_of

QUEUE = """
    INSERT INTO jobs (task_id, project_id, user_id, kind, status, attempts, max_attempts)
    VALUES ($1, $2, 'u', 'refine', 'queued', 0, 5) RETURNING id
"""
CLAIM = """
    UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = 'w',
                    lease_until = now() + interval '1 minute'
    WHERE id = $1
"""
RENEW = "UPDATE jobs SET lease_until = now() + interval '2 minutes' WHERE id = $1"
RETRY = """
    UPDATE jobs SET status = 'queued', run_after = now() + interval '5 seconds',
                    locked_by = NULL, lease_until = NULL
    WHERE id = $1
"""
DONE = "UPDATE jobs SET status = 'done', lease_until = NULL WHERE id = $1"


def test_a_job_notifies_when_it_may_be_claimable_and_not_when_claimed(pg_url: str) -> None:
    url = fresh_database(pg_url)
    upgrade_database(url)
    project = project_of(url, new_api_key(url))
    asyncio.run(_steps(url, project))


async def _steps(url: str, project: str) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(url)
    writer = await asyncpg.connect(url)
    steps = 0

    async def notified(statement: str, *args: object) -> int:
        """How many notifications the statement's transaction sent: those heard before a
        marker sent after its commit (one session's notifications arrive in commit order)."""
        nonlocal steps
        async with writer.transaction():
            for part in statement.split(";"):
                await writer.execute(part, *args)
        steps += 1
        marker = f"step {steps}"
        await writer.execute("SELECT pg_notify($1, $2)", JOBS, marker)
        count = 0
        while (payload := await asyncio.wait_for(heard.get(), 5)) != marker:
            assert payload == "", payload
            count += 1
        return count

    try:
        await listener.add_listener(JOBS, lambda *args: heard.put_nowait(args[-1]))
        task = await writer.fetchval(
            "INSERT INTO tasks (id, project_id, kind, user_id, conversation_id, status) "
            "VALUES (gen_random_uuid(), $1, 'add_message', 'u', 'c', 'running') RETURNING id",
            project,
        )
        job = await writer.fetchval(QUEUE, task, project)
        # fetchval ran outside ``notified``: what it sent is heard before the first marker.
        assert await notified("SELECT 1") == 1
        assert await notified(CLAIM, job) == 0
        assert await notified(RENEW, job) == 0
        assert await notified(RETRY, job) == 1  # handed back: claimable when its retry falls due
        assert await notified(CLAIM, job) == 0
        assert await notified(DONE, job) == 1  # the same user's next job may run now
        # Failed, then queued again by hand; due sooner; moved to another user (delete/user's
        # hand-over): each may make a job claimable.
        assert await notified("UPDATE jobs SET status = 'failed' WHERE id = $1", job) == 0
        assert await notified("UPDATE jobs SET status = 'queued' WHERE id = $1", job) == 1
        assert await notified(RETRY.replace("5 seconds", "1 hour"), job) == 0  # queued, later
        assert await notified("UPDATE jobs SET run_after = now() WHERE id = $1", job) == 1
        assert await notified("UPDATE jobs SET user_id = 'heir' WHERE id = $1", job) == 1
        # Ended without running (marked done by hand): the user's next job may run.
        assert await notified("UPDATE jobs SET status = 'done' WHERE id = $1", job) == 1
        # Four jobs queued in one transaction: one notification.
        assert await notified(";".join([QUEUE] * 4), task, project) == 1
        assert await notified("DELETE FROM jobs WHERE status = 'done'") == 0
        assert await notified("DELETE FROM jobs WHERE status = 'queued'") == 1
    finally:
        await listener.close()
        await writer.close()
