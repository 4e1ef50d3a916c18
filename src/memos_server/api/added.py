"""The answer to a request that stored something and queued its job: add/message, add/feedback,
and the turn chat stores. One copy, so every such request commits, wakes the worker and waits the
same way.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.api.schemas.common import Envelope
from memos_server.api.schemas.messages import AddMessageData
from memos_server.api.transaction import commit_now
from memos_server.runtime import Runtime
from memos_server.services.tasks import Added, wait_for_task
from memos_server.storage.database import unavailable
from memos_server.storage.models import Task
from memos_server.storage.vocabulary import TaskStatus

log = logging.getLogger(__name__)


async def settle_added(
    session: AsyncSession, runtime: Runtime, added: Added, async_mode: bool
) -> Task:
    """Commit (``commit_now``, the request's early edge), wake this process's worker for the
    job (if the request queued one), and give the task back (once its job has finished, when
    ``async_mode`` is false).

    Success is answered only after the commit: if it fails, the request fails (503 when the
    database went away) and the client repeats it."""
    task = added.task
    # Before the commit: the user's next read must not go to a replica that lacks this add.
    runtime.reads.wrote(task.project_id, task.user_id)
    await commit_now(session)  # what the request stored, and its job, are safe from here on
    # Only a task that queued its job is running (``Intake.take``): a fast add leaves the worker
    # asleep (waking it cost a transaction that claimed nothing, three round trips per add).
    if added.created and task.status == TaskStatus.RUNNING and runtime.worker is not None:
        runtime.worker.wake()
    if not async_mode and task.status == TaskStatus.RUNNING:
        try:
            task = await wait_for_task(
                runtime.database, task.id, runtime.settings.ingest.sync_wait_s
            )
        except Exception as error:
            if not unavailable(error):
                raise
            # The request is stored and its job queued; an error now would invite a repeat.
            log.warning("task %s: database unavailable while waiting; answered running", task.id)
    return task


async def answer_added(
    session: AsyncSession, runtime: Runtime, added: Added, async_mode: bool
) -> Envelope[AddMessageData]:
    """``settle_added``, answered as add/message answers."""
    task = await settle_added(session, runtime, added, async_mode)
    return Envelope(data=AddMessageData(success=True, task_id=str(task.id), status=task.status))
