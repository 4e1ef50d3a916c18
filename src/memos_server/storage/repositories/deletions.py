"""Forgetting: every row of one user (or of one conversation of theirs) in a project, and the
content-free record that it happened.

Each function is a handful of set-based statements in the caller's transaction, in this order:

1. the jobs, first: a worker applying one of them holds its row (``hold_job``), so the DELETE
   waits for that transaction to commit, and every later statement (each takes a new snapshot,
   READ COMMITTED) sees and deletes what it wrote; a worker that comes to apply after the DELETE
   finds its job gone and writes nothing;
2. the memory history, while the messages and tasks that name its rows still exist: a memory
   deleted earlier (delete/memory) has no row left in ``memories`` but its history still quotes
   it, and is found through the tasks and messages that made it;
3. memories, feedback, tasks, messages; then the user's HNSW indexes, whose predicates name the
   user (``DROP INDEX`` inside the transaction: it locks ``memories`` only until the commit that
   follows at once).

``memory_history`` has no index on project, task or sources, so step 2 scans it once: a rare,
deliberate operation pays that rather than every write paying for three more indexes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Executable, delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.models import (
    Deletion,
    Feedback,
    Job,
    Memory,
    MemoryHistory,
    Message,
    Task,
)
from memos_server.storage.repositories.vector_indexes import UserKind
from memos_server.storage.vocabulary import MemoryKind, MemoryMode

_USER_HISTORY = text(
    """
    WITH tasks_of AS (SELECT id FROM tasks WHERE project_id = :p AND user_id = :u),
    said AS (SELECT ARRAY(SELECT id FROM messages WHERE project_id = :p AND user_id = :u) AS ids),
    memories_of AS (
        SELECT id FROM memories WHERE project_id = :p AND user_id = :u
        UNION
        SELECT h.memory_id FROM memory_history h, said
        WHERE h.project_id = :p
          AND (h.task_id IN (SELECT id FROM tasks_of) OR h.source_message_ids && said.ids)
    )
    DELETE FROM memory_history
    WHERE project_id = :p AND memory_id IN (SELECT id FROM memories_of)
    """
)

_USER_MEMORIES = text(
    """
    WITH gone AS (
        DELETE FROM memories WHERE project_id = :p AND user_id = :u RETURNING kind, mode
    )
    SELECT kind, mode, count(*) AS n FROM gone GROUP BY kind, mode
    """
)

# A group add's task belongs to its first user but stores messages for every user it names:
# forgetting that user hands the task (and its job) to the next user with messages in it, so the
# others keep its status and fine extraction. Its idempotency key and fingerprint go: they were
# made of the forgotten user's request.
_HAND_OVER_TASKS = """
    WITH heirs AS (
        SELECT t.id, (
            SELECT m.user_id FROM messages m
            WHERE m.task_id = t.id AND m.project_id = :p AND m.user_id <> :u
            ORDER BY m.id LIMIT 1
        ) AS heir
        FROM tasks t
        WHERE t.project_id = :p AND t.user_id = :u {conversation}
    ),
    moved AS (
        UPDATE tasks t SET user_id = h.heir, idempotency_key = NULL, fingerprint = NULL
        FROM heirs h WHERE t.id = h.id AND h.heir IS NOT NULL
        RETURNING t.id, t.user_id
    )
    UPDATE jobs j SET user_id = m.user_id FROM moved m WHERE j.task_id = m.id
    """
_HAND_OVER_USER_TASKS = text(_HAND_OVER_TASKS.format(conversation=""))
_HAND_OVER_CONVERSATION_TASKS = text(
    _HAND_OVER_TASKS.format(conversation="AND t.conversation_id = :c")
)

# Memories made only from the conversation's messages, and the feedback given in it; and the
# memories deleted earlier (delete/memory) whose history names a task of the conversation (the
# add or feedback that made them): their history quotes the conversation, and once its tasks
# are gone no later delete/user could find it. Found through the history's task index, not by
# reading the project's whole history.
_CONVERSATION_MEMORIES = text(
    """
    WITH said AS (
        SELECT ARRAY(SELECT id FROM messages
                     WHERE project_id = :p AND user_id = :u AND conversation_id = :c) AS ids
    ),
    tasks_of AS (
        SELECT id FROM tasks WHERE project_id = :p AND user_id = :u AND conversation_id = :c
    )
    SELECT m.id FROM memories m, said
    WHERE m.project_id = :p AND m.user_id = :u
      AND ((cardinality(m.source_message_ids) > 0 AND m.source_message_ids <@ said.ids)
           OR (m.mode = 'feedback' AND m.task_id IN (SELECT id FROM tasks_of)))
    UNION
    SELECT h.memory_id FROM memory_history h
    WHERE h.task_id IN (SELECT id FROM tasks_of) AND h.project_id = :p
      AND NOT EXISTS (SELECT 1 FROM memories gone WHERE gone.id = h.memory_id)
    """
)


Scoped = type[Feedback] | type[Task] | type[Message] | type[Job]


def _of(
    model: Scoped, project_id: uuid.UUID, user_id: str, conversation_id: str | None = None
) -> list[ColumnElement[bool]]:
    found = [model.project_id == project_id, model.user_id == user_id]
    if conversation_id is not None and not issubclass(model, Job):
        found.append(model.conversation_id == conversation_id)
    return found


class DeletionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _count(self, statement: Executable, params: dict[str, Any] | None = None) -> int:
        result = await self.session.execute(statement, params)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def _rows(
        self, project_id: uuid.UUID, user_id: str, conversation_id: str | None = None
    ) -> dict[str, int]:
        """Delete the feedback, tasks and messages of the user (in the conversation)."""
        counts = {}
        for name, model in (("feedback", Feedback), ("tasks", Task), ("messages", Message)):
            where = _of(model, project_id, user_id, conversation_id)
            counts[name] = await self._count(delete(model).where(*where))
        return counts

    async def forget_user(self, project_id: uuid.UUID, user_id: str) -> dict[str, int]:
        """Delete every row of the user in the project; how many of each kind went."""
        params: dict[str, Any] = {"p": project_id, "u": user_id}
        await self.session.execute(_HAND_OVER_USER_TASKS, params)
        counts = {"jobs": await self._count(delete(Job).where(*_of(Job, project_id, user_id)))}
        counts["history"] = await self._count(_USER_HISTORY, params)
        counts.update(memory_counts(await self.session.execute(_USER_MEMORIES, params)))
        counts.update(await self._rows(project_id, user_id))
        counts["indexes"] = await self._drop_indexes(
            [UserKind(project_id, user_id, kind).index_name for kind in MemoryKind]
        )
        return counts

    async def conversation_memories(
        self, project_id: uuid.UUID, user_id: str, conversation_id: str
    ) -> list[uuid.UUID]:
        """The user's memories made only from this conversation's messages (every source among
        them), the feedback memories of feedback given in it, and the ids of such memories
        deleted earlier whose history is still kept."""
        result = await self.session.execute(
            _CONVERSATION_MEMORIES, {"p": project_id, "u": user_id, "c": conversation_id}
        )
        return [memory_id for (memory_id,) in result.all()]

    async def forget_memories(
        self, project_id: uuid.UUID, ids: Sequence[uuid.UUID]
    ) -> dict[str, int]:
        """These memories and their whole history, no DELETE row left quoting them: history has
        no user column, so a row left here could not be found by a later delete/user."""
        if not ids:
            return {"memories": 0, "history": 0}
        history = delete(MemoryHistory).where(
            MemoryHistory.project_id == project_id, MemoryHistory.memory_id.in_(ids)
        )
        memories = delete(Memory).where(Memory.project_id == project_id, Memory.id.in_(ids))
        return {"history": await self._count(history), "memories": await self._count(memories)}

    async def forget_conversation_jobs(
        self, project_id: uuid.UUID, user_id: str, conversation_id: str
    ) -> int:
        """The conversation's jobs, first (see the module's note on order); a group add's task
        is handed to its next user first."""
        await self.session.execute(
            _HAND_OVER_CONVERSATION_TASKS, {"p": project_id, "u": user_id, "c": conversation_id}
        )
        tasks = select(Task.id).where(*_of(Task, project_id, user_id, conversation_id))
        return await self._count(delete(Job).where(Job.task_id.in_(tasks)))

    async def forget_conversation_rows(
        self, project_id: uuid.UUID, user_id: str, conversation_id: str
    ) -> dict[str, int]:
        """The conversation's feedback, tasks and messages (its memories are gone by now)."""
        return await self._rows(project_id, user_id, conversation_id)

    async def _drop_indexes(self, names: Sequence[str]) -> int:
        present = await self.session.execute(
            text("SELECT relname FROM pg_class WHERE relkind = 'i' AND relname = ANY(:names)"),
            {"names": list(names)},
        )
        dropped = 0
        for (name,) in present.all():
            # The names are ours (a prefix and hex digits), never a client's text.
            await self.session.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
            dropped += 1
        return dropped

    async def find(self, project_id: uuid.UUID, subject: str) -> list[Deletion]:
        """The project's deletions of this subject (a digest), oldest first."""
        result = await self.session.execute(
            select(Deletion)
            .where(Deletion.project_id == project_id, Deletion.subject == subject)
            .order_by(Deletion.id)
        )
        return list(result.scalars())

    async def record_all(self, deletions: Sequence[Deletion]) -> None:
        """Several records in one round trip (a retention sweep's batch: one per user)."""
        self.session.add_all(deletions)
        await self.session.flush()

    async def record(
        self, project_id: uuid.UUID, scope: str, subject: str, counts: dict[str, int]
    ) -> Deletion:
        deletion = Deletion(project_id=project_id, scope=scope, subject=subject, counts=counts)
        self.session.add(deletion)
        await self.session.flush()
        return deletion


def memory_counts(rows: Any) -> dict[str, int]:
    """Deleted memories as facts, preferences and feedback (feedback memories are facts)."""
    counts = {"facts": 0, "preferences": 0, "feedback_memories": 0}
    for kind, mode, n in rows:
        if mode == MemoryMode.FEEDBACK:
            counts["feedback_memories"] += int(n)
        elif kind == MemoryKind.PREFERENCE:
            counts["preferences"] += int(n)
        else:
            counts["facts"] += int(n)
    return counts
