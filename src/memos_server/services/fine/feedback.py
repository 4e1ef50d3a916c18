"""Feedback applied: a user's correction of their memories ("I don't live in Beijing anymore").

add/feedback stores the feedback and its feedback memory (``services.feedback_intake``). With an
LLM configured, a ``feedback`` job then applies it. The user's memories closest to the
feedback (a search with its text) are shown to the model, numbered so it cannot invent ids; the
model says which to UPDATE (with the corrected text) or ARCHIVE, and what new fact to ADD. The
changes are written in one transaction with history rows, and the feedback memory is archived:
what it said now lives in the memories it changed. If the model fails, the task fails with the
reason and the feedback memory stays, still ranked above what it corrects.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.llm.json_output import Usage, ask_json
from memos_server.prompts import load_prompt
from memos_server.prompts.dates import minute
from memos_server.prompts.memory_lines import render_memories
from memos_server.services.fine.applier import Applier, Decision
from memos_server.services.fine.feedback_answer import read_operations
from memos_server.services.jobs.handlers import (
    LostJob,
    ModelJob,
    complete_job,
    hold_job,
    model_failures,
)
from memos_server.services.memory_writer import MemoryText, new_memory
from memos_server.services.search.engine import SearchQuery, search_memories
from memos_server.storage.memory_rows import MemoryOrRow
from memos_server.storage.models import Feedback, Memory, Task
from memos_server.storage.repositories.feedback import FeedbackRepository
from memos_server.storage.repositories.memories import MemoryRepository
from memos_server.storage.repositories.tasks import TaskRepository
from memos_server.storage.vocabulary import MemoryKind, MemoryMode
from memos_server.text.language import detect_language
from memos_server.text.windows import short_title

FEEDBACK_TAG = "feedback"


class FeedbackApplier(ModelJob):
    """The ``feedback`` job: apply one feedback to the user's memories with the model."""

    what = "applying the feedback"
    kept = "the feedback stays a memory of its own"

    async def run(self, task_id: uuid.UUID, job_id: int, worker: str) -> Task:
        async with self.database.session() as session:
            task = await TaskRepository(session).get_by_id(task_id)
            feedback = await FeedbackRepository(session).for_task(task_id)
            if task is None or feedback is None:
                raise LostJob(f"task {task_id} was deleted (delete/user or delete/message)")
            shown = await self._related(session, task, feedback)
        usage = Usage()
        language = detect_language([feedback.content])
        prompt = load_prompt("feedback", language)
        text = prompt.render(
            memories=render_memories(shown, language),
            feedback=feedback.content,
            time=minute(feedback.feedback_time or feedback.created_at),
        )
        with model_failures(usage):
            operations = await ask_json(
                self.llm, text, lambda value: read_operations(value, shown, language), usage
            )
        rewrites = [op.memory_value or "" for op in operations if op.action in ("UPDATE", "ADD")]
        embedded = iter(await self.embedder.embed(rewrites))
        vectors = [next(embedded) if op.action in ("UPDATE", "ADD") else None for op in operations]
        async with self.database.session() as session:
            await hold_job(session, job_id, worker)
            await self._apply(session, task, feedback, operations, vectors, prompt.version)
            finished = await complete_job(session, task.id, job_id, usage)
            await session.commit()
        return finished

    async def _related(
        self, session: AsyncSession, task: Task, feedback: Feedback
    ) -> list[MemoryOrRow]:
        """The user's facts and preferences closest to the feedback, facts first."""
        limit = self.settings.fine.related_candidates
        most = self.settings.limits.max_result_limit
        found = await search_memories(
            session,
            self.embedder,
            self.settings,
            task.project_id,
            SearchQuery(
                user_id=task.user_id,
                query=feedback.content[: self.settings.limits.max_query_chars],
                memory_limit=min(limit + 1, most),  # the feedback's own memory is left out
                preference_limit=min(limit, most),
                agent_id=feedback.agent_id,
            ),
        )
        facts = [s.memory for s in found.facts if s.memory.task_id != task.id][:limit]
        return facts + [s.memory for s in found.preferences]

    async def _apply(
        self,
        session: AsyncSession,
        task: Task,
        feedback: Feedback,
        decisions: Sequence[Decision],
        vectors: Sequence[list[float] | None],
        prompt_version: str,
    ) -> None:
        applier = Applier(session, project_id=task.project_id, task_id=task.id)
        for decision, vector in zip(decisions, vectors, strict=True):
            # What an ADD adds; an UPDATE's correction too, should its target be gone.
            new = (
                self._memory(task, feedback, decision, vector, prompt_version)
                if vector is not None
                else None
            )
            await applier.apply(decision, new=new, vector=vector, reason=feedback.content)
        own = await MemoryRepository(session).active_feedback_for_task(task.project_id, task.id)
        await applier.retire(own)
        await applier.finish()

    def _memory(
        self,
        task: Task,
        feedback: Feedback,
        decision: Decision,
        vector: list[float],
        prompt_version: str,
    ) -> Memory:
        value = decision.memory_value or ""
        key = decision.memory_key or short_title(value)
        tags = decision.tags
        return new_memory(
            text=MemoryText(key, value),
            project_id=task.project_id,
            user_id=task.user_id,
            conversation_id=feedback.conversation_id,
            agent_id=feedback.agent_id,
            app_id=feedback.app_id,
            task_id=task.id,
            kind=MemoryKind.FACT,
            mode=MemoryMode.FINE,
            memory_type="UserMemory",
            tags=[*tags, FEEDBACK_TAG] if FEEDBACK_TAG not in tags else tags,
            embedding=vector,
            prompt_version=prompt_version,
            knowledgebase_ids=task.knowledgebase_ids or (),
            expires_at=task.expires_at,
        )
