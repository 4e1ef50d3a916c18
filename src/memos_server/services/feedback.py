"""add/feedback: a user's correction of their memories ("I don't live in Beijing anymore").

The feedback is kept as sent (the ``feedback`` table) and at once becomes a memory of its own
(mode ``feedback``, tag ``feedback``, key "用户反馈" / "User feedback"). That memory names the
memories it corrects: the user's facts that best share its words (``corrected_by``). Whenever
search returns one of them, the feedback comes directly above it. That is all fast mode
does.

With an LLM configured, a ``feedback`` job then applies it. The user's memories closest to the
feedback (a search with its text) are shown to the model, numbered so it cannot invent ids; the
model says which to UPDATE (with the corrected text) or ARCHIVE, and what new fact to ADD. The
changes are written in one transaction with history rows, and the feedback memory is archived:
what it said now lives in the memories it changed. If the model fails, the task fails with the
reason and the feedback memory stays, still ranked above what it corrects.

Like an add, a feedback is stored once however often it is sent (``Idempotency-Key``, or the
same user, conversation, text and time within ``ingest.dedupe_window_s``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.embedding import Embedder
from memos_server.llm.json_output import Usage, ask_json
from memos_server.prompts import load_prompt
from memos_server.prompts.dates import minute
from memos_server.prompts.labels import FEEDBACK_KEYS
from memos_server.prompts.memory_lines import render_memories
from memos_server.services.applier import Applier, Decision
from memos_server.services.feedback_operations import read_operations
from memos_server.services.jobs import (
    LostJob,
    ModelJob,
    complete_job,
    hold_job,
    model_failures,
)
from memos_server.services.language import detect_language
from memos_server.services.limits import check_ids, check_text
from memos_server.services.memory_writer import MemoryText, added_row, new_memory
from memos_server.services.search import SearchQuery, bm25, search_memories
from memos_server.services.tasks import Added, Request, TaskKind, find_repeat, open_task
from memos_server.services.text_index import query_tokens
from memos_server.services.windows import short_title
from memos_server.settings import Settings
from memos_server.storage.models import Feedback, Memory, Task
from memos_server.storage.repositories.feedback import FeedbackRepository
from memos_server.storage.repositories.jobs import JobRepository
from memos_server.storage.repositories.memories import MemoryRepository
from memos_server.storage.repositories.memory_scopes import Scope
from memos_server.storage.repositories.tasks import TaskRepository
from memos_server.storage.vocabulary import MemoryKind, MemoryMode

FEEDBACK_TAG = "feedback"


@dataclass(frozen=True)
class IncomingFeedback:
    user_id: str
    content: str
    conversation_id: str | None = None
    feedback_time: datetime | None = None
    agent_id: str | None = None
    app_id: str | None = None


def fingerprint(feedback: IncomingFeedback) -> str:
    """What makes two feedbacks the same: everything a feedback stores (never equal to an add's)."""
    canonical = json.dumps(
        [
            "feedback",
            feedback.user_id,
            feedback.conversation_id,
            feedback.agent_id,
            feedback.app_id,
            feedback.content,
            feedback.feedback_time.isoformat() if feedback.feedback_time else None,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def add_feedback(
    session: AsyncSession,
    embedder: Embedder,
    settings: Settings,
    project_id: uuid.UUID,
    feedback: IncomingFeedback,
    *,
    apply: bool = False,
    idempotency_key: str | None = None,
) -> Added:
    """Store the feedback and its feedback memory; queue the job that applies it when ``apply``."""
    check_ids(
        settings.limits,
        feedback.user_id,
        feedback.conversation_id,
        agent_id=feedback.agent_id,
        app_id=feedback.app_id,
    )
    check_text(settings.limits, "feedback_content", feedback.content)
    identity = Request(
        kind=TaskKind.ADD_FEEDBACK,
        user_id=feedback.user_id,
        conversation_id=feedback.conversation_id or "",
        fingerprint=fingerprint(feedback),
        idempotency_key=idempotency_key,
    )
    window_s = settings.ingest.dedupe_window_s
    repeat = await find_repeat(session, project_id, identity, window_s)
    if repeat is not None:
        return repeat
    value = f"user: {feedback.content.strip()}"

    def prepare() -> tuple[MemoryText, list[str]]:
        key = FEEDBACK_KEYS[detect_language([feedback.content])]
        return MemoryText(key, value), query_tokens(feedback.content)

    # Segmenting a long text is CPU work: off the event loop.
    text, words = await asyncio.to_thread(prepare)
    # No connection is held while the model works (find_repeat ended its transaction).
    [vector] = await embedder.embed([value])

    added = await open_task(session, project_id, identity, running=apply, dedupe_window_s=window_s)
    if not added.created:
        return added
    task = added.task
    await FeedbackRepository(session).add(
        Feedback(
            project_id=project_id,
            user_id=feedback.user_id,
            conversation_id=feedback.conversation_id,
            agent_id=feedback.agent_id,
            app_id=feedback.app_id,
            task_id=task.id,
            content=feedback.content,
            feedback_time=feedback.feedback_time,
        )
    )
    corrects = await corrected_by(session, settings, project_id, feedback, words)
    memory = new_memory(
        text=text,
        project_id=project_id,
        user_id=feedback.user_id,
        conversation_id=feedback.conversation_id,
        agent_id=feedback.agent_id,
        app_id=feedback.app_id,
        task_id=task.id,
        kind=MemoryKind.FACT,
        mode=MemoryMode.FEEDBACK,
        memory_type="UserMemory",
        tags=[FEEDBACK_TAG],
        memory_time=feedback.feedback_time,
        embedding=vector,
        corrects=corrects,
    )
    await MemoryRepository(session).add_all([memory], [added_row(memory)])
    if apply:
        await JobRepository(session).enqueue(
            task.id, project_id, feedback.user_id, settings.jobs.max_attempts, kind="feedback"
        )
    return added


async def corrected_by(
    session: AsyncSession,
    settings: Settings,
    project_id: uuid.UUID,
    feedback: IncomingFeedback,
    tokens: list[str],
) -> list[uuid.UUID]:
    """The user's fact memories a feedback is about: the full-text channel's best matches for its
    words (``tokens``: its ``query_tokens``), at most ``fine.related_candidates``, each scoring at
    least half the best.

    Words, not vectors: the default model finds short Chinese sentences about anything alike, and
    a correction names what it corrects ("Beijing", "北京").
    """
    scope = Scope(project_id, feedback.user_id, feedback.agent_id)
    repository = MemoryRepository(session)
    hits = await repository.lexical(
        scope, MemoryKind.FACT, tokens, settings.fine.related_candidates
    )
    if not hits:
        return []
    documents = (await repository.count_by_kind(scope, [MemoryKind.FACT])).memories[MemoryKind.FACT]
    scored = bm25(tokens, hits, documents)
    best = scored[0][1]
    return [hit.id for hit, score, _ in scored if score >= best / 2]


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

    async def _related(self, session: AsyncSession, task: Task, feedback: Feedback) -> list[Memory]:
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
        )
