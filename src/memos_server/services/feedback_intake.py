"""add/feedback's intake: a user's correction ("I don't live in Beijing anymore") stored as sent
(the ``feedback`` table) and at once as a memory of its own (mode ``feedback``, tag
``feedback``, key "用户反馈" / "User feedback") naming the memories it corrects: the user's
facts that best share its words (``corrected_by``). Whenever search returns one of them, the
feedback comes directly above it. That is all fast mode does; in fine mode a ``feedback`` job
then applies it (``services.fine.feedback``).

Like an add, a feedback is stored once however often it is sent (``Idempotency-Key``, or the
same user, conversation, text and time within ``ingest.dedupe_window_s``): it is a kind of the
add-like intake (``services.intake``).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.embedding import Embedder
from memos_server.prompts.labels import FEEDBACK_KEYS
from memos_server.services.fine.feedback import FEEDBACK_TAG
from memos_server.services.intake import Intake
from memos_server.services.limits import check_ids, check_text
from memos_server.services.memory_writer import MemoryText, added_row, new_memory
from memos_server.services.search.fusion import bm25
from memos_server.services.tasks import Added, Keeps, TaskKind
from memos_server.settings import Settings
from memos_server.storage.models import Feedback, Task
from memos_server.storage.repositories.feedback import FeedbackRepository
from memos_server.storage.repositories.memories import MemoryRepository
from memos_server.storage.repositories.memory_scopes import Scope
from memos_server.storage.vocabulary import MemoryKind, MemoryMode
from memos_server.text.language import detect_language
from memos_server.text.tokens import query_tokens


@dataclass(frozen=True)
class IncomingFeedback:
    user_id: str
    content: str
    conversation_id: str | None = None
    feedback_time: datetime | None = None
    agent_id: str | None = None
    app_id: str | None = None
    # allow_knowledgebase_ids, checked: the feedback's memories are shared into these bases.
    knowledgebase_ids: tuple[uuid.UUID, ...] = ()


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
            *(
                [sorted(str(b) for b in feedback.knowledgebase_ids)]
                if feedback.knowledgebase_ids
                else []
            ),
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class PreparedFeedback:
    value: str  # the feedback memory's text, as embedded
    text: MemoryText
    words: list[str]  # its ``query_tokens``, to find what it corrects


class FeedbackIntake(Intake[IncomingFeedback, PreparedFeedback]):
    """add/feedback: the feedback and its feedback memory; in fine mode, a ``feedback`` job."""

    kind = TaskKind.ADD_FEEDBACK
    job = "feedback"

    async def add(
        self,
        session: AsyncSession,
        *,
        project_id: uuid.UUID,
        feedback: IncomingFeedback,
        idempotency_key: str | None = None,
    ) -> Added:
        """Store the feedback and its feedback memory; queue the job that applies it in fine
        mode."""
        return await self.take(
            session, project_id=project_id, request=feedback, idempotency_key=idempotency_key
        )

    def check(self, request: IncomingFeedback) -> None:
        limits = self.settings.limits
        check_ids(
            limits,
            request.user_id,
            request.conversation_id,
            agent_id=request.agent_id,
            app_id=request.app_id,
        )
        check_text(limits, "feedback_content", request.content)

    def identity(self, request: IncomingFeedback) -> tuple[str, str, str]:
        return request.user_id, request.conversation_id or "", fingerprint(request)

    def prepare(self, request: IncomingFeedback, embedder: Embedder) -> PreparedFeedback:
        # Segmenting a long text is CPU work.
        value = f"user: {request.content.strip()}"
        key = FEEDBACK_KEYS[detect_language([request.content])]
        return PreparedFeedback(value, MemoryText(key, value), query_tokens(request.content))

    def keeps(self, request: IncomingFeedback) -> Keeps:
        return Keeps(tuple(request.knowledgebase_ids))  # for the fine job's memories

    def texts(self, prepared: PreparedFeedback) -> list[str]:
        return [prepared.value]

    async def store(
        self,
        session: AsyncSession,
        *,
        project_id: uuid.UUID,
        task: Task,
        request: IncomingFeedback,
        prepared: PreparedFeedback,
        vectors: Sequence[list[float]],
        expires_at: datetime | None,
    ) -> None:
        [vector] = vectors
        await FeedbackRepository(session).add(
            Feedback(
                project_id=project_id,
                user_id=request.user_id,
                conversation_id=request.conversation_id,
                agent_id=request.agent_id,
                app_id=request.app_id,
                task_id=task.id,
                content=request.content,
                feedback_time=request.feedback_time,
            )
        )
        corrects = await corrected_by(session, self.settings, project_id, request, prepared.words)
        memory = new_memory(
            text=prepared.text,
            project_id=project_id,
            user_id=request.user_id,
            conversation_id=request.conversation_id,
            agent_id=request.agent_id,
            app_id=request.app_id,
            task_id=task.id,
            kind=MemoryKind.FACT,
            mode=MemoryMode.FEEDBACK,
            memory_type="UserMemory",
            tags=[FEEDBACK_TAG],
            memory_time=request.feedback_time,
            embedding=vector,
            corrects=corrects,
            knowledgebase_ids=request.knowledgebase_ids,
            expires_at=expires_at,
        )
        await MemoryRepository(session).add_all([memory], [added_row(memory)])


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
