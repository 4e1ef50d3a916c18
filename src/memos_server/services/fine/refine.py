"""Fine mode: turn one add's messages into fact, preference and event memories with the LLM.

It runs as a job (``services.jobs.worker``). The raw messages and their fast-mode memories are
already stored (by ``ingest``) before it starts, so nothing is lost if the model fails: the
failure is raised as ``JobFailed`` for the worker to retry or record, and the fast memories
stay. When extraction succeeds, each new memory is reconciled with the user's existing fine
memories (skip duplicates; ADD, UPDATE, ARCHIVE or NONE), all changes are written in one
transaction with history rows, and the fast memories of these messages are archived so search
returns the refined ones only.

Which kinds it asks for follows the add's ``allow_memory_view`` (``services/memory_views``):
facts and preferences by default, events when named. Events are reconciled like facts, with the
user's events. With a profile bound to the user (and the add naming no views, or ``profile``),
the model also fills its updatable fields from the conversation (``profile_fill``), written in
the same transaction with profile history rows.

LLM calls per add: one for facts, one for preferences, one for events when asked, one per bound
profile with updatable fields, and one per new memory that has related existing memories
(similarity >= ``related_similarity``) but no duplicate among them (similarity >=
``duplicate_similarity``; both the model's levels unless set, ``embedding.levels``); each call is
repeated once if its answer cannot be read.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from memos_server.embedding.levels import levels_of
from memos_server.llm.json_output import Usage
from memos_server.prompts import Language
from memos_server.services.fine.applier import Applier, Decision
from memos_server.services.fine.extraction import Extraction, at_midnight, extract
from memos_server.services.fine.profile_fill import (
    Fill,
    bound_profiles,
    fill_profiles,
    write_fills,
)
from memos_server.services.fine.reconcile import decide
from memos_server.services.fine.speakers import Group, group_of
from memos_server.services.jobs.handlers import (
    LostJob,
    ModelJob,
    complete_job,
    hold_job,
    model_failures,
)
from memos_server.services.memory_views import EVENT_TYPE, MemoryView, task_views
from memos_server.services.memory_writer import MemoryText, new_memory
from memos_server.storage.models import Memory, Message, Task
from memos_server.storage.repositories.memories import MemoryRepository
from memos_server.storage.repositories.memory_scopes import Scope
from memos_server.storage.repositories.messages import MessageRepository
from memos_server.storage.repositories.tasks import TaskRepository
from memos_server.storage.vocabulary import MemoryKind, MemoryMode
from memos_server.text.injected import strip_injected
from memos_server.text.language import detect_language
from memos_server.text.windows import Turn, short_title, speaker_of

log = logging.getLogger(__name__)


@dataclass
class Candidate:
    """A memory the model proposed, before reconciliation."""

    kind: MemoryKind
    key: str
    value: str
    memory_type: str
    tags: list[str]
    confidence: float
    prompt_version: str
    memory_time: datetime | None = None
    preference_type: str | None = None
    reasoning: str | None = None
    details: dict[str, Any] | None = None
    vector: list[float] = field(default_factory=list)
    speaker: str | None = None  # a group chat's: whose it is, by name (None: the group's)


@dataclass
class Planned:
    candidate: Candidate
    decision: Decision
    merged_vector: list[float] | None = None  # an UPDATE's: its merged text's embedding
    user_id: str = ""  # whose memory it is (a group add has several users)


def candidates_of(extraction: Extraction, zone: tzinfo = UTC) -> list[Candidate]:
    """The extraction's memories as candidates; a date given is its midnight in ``zone``."""
    found = [
        Candidate(
            kind=MemoryKind.FACT,
            key=fact.memory_key.strip(),
            value=fact.memory_value.strip(),
            memory_type=fact.memory_type,
            tags=fact.tags,
            confidence=fact.confidence,
            prompt_version=extraction.fact_prompt,
            memory_time=at_midnight(fact.memory_time, zone),
            speaker=fact.speaker,
        )
        for fact in extraction.facts
    ]
    found += [
        Candidate(
            kind=MemoryKind.PREFERENCE,
            key=short_title(preference.preference),
            value=preference.preference.strip(),
            memory_type="UserMemory",
            tags=preference.tags,
            confidence=preference.confidence,
            prompt_version=extraction.preference_prompt,
            preference_type=preference.preference_type,
            reasoning=preference.reasoning.strip(),
            speaker=preference.speaker,
        )
        for preference in extraction.preferences
    ]
    found += [
        Candidate(
            kind=MemoryKind.EVENT,
            key=event.event_key.strip(),
            value=event.event_value.strip(),
            memory_type=EVENT_TYPE,
            tags=event.tags,
            confidence=event.confidence,
            prompt_version=extraction.event_prompt,
            memory_time=at_midnight(event.event_date, zone),
            details=event.details(),
        )
        for event in extraction.events
    ]
    return found


def _similarity(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))  # both unit length


class Refiner(ModelJob):
    """The ``refine`` job: fine extraction of one add."""

    what = "fine extraction"
    kept = "the messages and their fast-mode memories are kept"

    async def run(self, task_id: uuid.UUID, job_id: int, worker: str) -> Task:
        """Extract, reconcile, apply; the job is marked done in the same transaction."""
        async with self.database.session() as session:
            task = await TaskRepository(session).get_by_id(task_id)
            if task is None:
                raise LostJob(f"task {task_id} was deleted (delete/user or delete/message)")
            group = group_of(await MessageRepository(session).for_task(task_id), task.user_id)
            # A group's turns speak for several users: profiles are filled from one user's adds,
            # and only by an add that names no views or names profile.
            profiles = []
            named = task.memory_views
            if not group.is_group and (named is None or MemoryView.PROFILE.value in named):
                profiles = await bound_profiles(session, task.project_id, task.user_id)
        messages = group.conversation
        usage = Usage()
        zone = self.settings.search.zone()
        with model_failures(usage):
            turns = [
                Turn(
                    i,
                    m.role,
                    strip_injected(m.content),
                    m.chat_time,
                    speaker_of(m.role_name, m.role_id),
                )
                for i, m in enumerate(messages)
            ]
            spoken = [t.text for t in turns if t.role == "user"] or [t.text for t in turns]
            language = detect_language(spoken)
            views = task_views(task.memory_views)
            extraction = await extract(
                self.llm,
                turns,
                language,
                facts=MemoryView.DETAIL_FACTUAL in views,
                preferences=MemoryView.PREFERENCE in views,
                events=MemoryView.EVENT in views,
                group=group.is_group,
                zone=zone,
            )
            usage.add(extraction.usage)
            candidates = candidates_of(extraction, zone)
            agent_id = messages[0].agent_id if messages else None
            plan: list[Planned] = []
            # Each user's memories are reconciled with that user's own, as if added alone.
            for user_id in group.users:
                theirs = [c for c in candidates if user_id in group.targets(c.speaker)]
                scope = Scope(task.project_id, user_id, agent_id)
                for planned in await self._plan(scope, language, theirs, usage):
                    planned.user_id = user_id
                    plan.append(planned)
            fills = await fill_profiles(
                self.llm,
                turns,
                language,
                profiles,
                max_value_chars=self.settings.profiles.max_value_chars,
                usage=usage,
                zone=zone,
            )
        return await self._apply(
            task, group, plan, fills, usage, job_id, worker, unusable=extraction.unusable
        )

    async def _plan(
        self, scope: Scope, language: Language, candidates: list[Candidate], usage: Usage
    ) -> list[Planned]:
        vectors = await self.embedder.embed([c.value for c in candidates])
        for candidate, vector in zip(candidates, vectors, strict=True):
            candidate.vector = vector
        fine = self.settings.fine
        levels = levels_of(self.embedder.name)
        # A setting, when given, overrides the model's level.
        duplicate = (
            levels.duplicate if fine.duplicate_similarity is None else fine.duplicate_similarity
        )
        similar = levels.similar if fine.related_similarity is None else fine.related_similarity
        plan: list[Planned] = []
        kept: list[Candidate] = []
        touched: set[uuid.UUID] = set()
        for candidate in candidates:
            if any(
                c.kind == candidate.kind and _similarity(c.vector, candidate.vector) >= duplicate
                for c in kept
            ):
                continue  # the model said the same thing twice in this conversation
            async with self.database.session() as session:
                nearest = await MemoryRepository(session).nearest(
                    scope,
                    candidate.kind,
                    candidate.vector,
                    fine.related_candidates,
                    mode=MemoryMode.FINE,
                )
            if nearest and nearest[0][1] >= duplicate:
                plan.append(Planned(candidate, Decision("NONE", nearest[0][0])))
                continue
            related = [
                memory
                for memory, similarity in nearest
                if similarity >= similar and memory.id not in touched
            ]
            decision = (
                await decide(self.llm, language, candidate.value, related, usage)
                if related
                else Decision("ADD")
            )
            if decision.target is not None and decision.action in ("UPDATE", "ARCHIVE"):
                touched.add(decision.target.id)
            if decision.action in ("ADD", "ARCHIVE"):
                kept.append(candidate)
            plan.append(Planned(candidate, decision))
        merged = [p for p in plan if p.decision.action == "UPDATE"]
        merged_vectors = await self.embedder.embed([p.decision.memory_value or "" for p in merged])
        for planned, vector in zip(merged, merged_vectors, strict=True):
            planned.merged_vector = vector
        return plan

    async def _apply(
        self,
        task: Task,
        group: Group,
        plan: list[Planned],
        fills: list[Fill],
        usage: Usage,
        job_id: int,
        worker: str,
        *,
        unusable: Mapping[str, str],
    ) -> Task:
        """``unusable``: the kinds whose answer could not be used (``Extraction.unusable``): the
        task still completes with the facts, its ``error`` naming what is missing."""
        async with self.database.session() as session:
            # A user of a group add forgotten meanwhile (delete/user takes their lock, and hands
            # the task on if it was theirs) must get nothing: lock each, then see who is left.
            # The locks before the job's row, in the order delete/user takes them.
            tasks = TaskRepository(session)
            for user_id in group.users:
                await tasks.lock_user(task.project_id, user_id, exclusive=False)
            await hold_job(session, job_id, worker)
            left = group_of(await MessageRepository(session).for_task(task.id), task.user_id)
            appliers: dict[str, Applier] = {}
            for user_id, messages in left.copies.items():
                appliers[user_id] = Applier(
                    session,
                    project_id=task.project_id,
                    task_id=task.id,
                    source_ids=[m.id for m in messages],
                )
            for planned in plan:
                if planned.decision.action == "NONE" or planned.user_id not in appliers:
                    continue
                messages = left.copies[planned.user_id]
                # The new memory: added on ADD and ARCHIVE, and on UPDATE if its target is gone.
                new = self._memory(task, planned.user_id, messages, planned.candidate)
                await appliers[planned.user_id].apply(
                    planned.decision, new=new, vector=planned.merged_vector
                )
            for user_id, applier in appliers.items():
                fast = await MemoryRepository(session).active_fast_for_messages(
                    task.project_id, [m.id for m in left.copies[user_id]]
                )
                await applier.retire(fast)
                await applier.finish()
            if fills and task.user_id in left.copies:
                await write_fills(
                    session,
                    fills,
                    task_id=task.id,
                    source_ids=[m.id for m in left.copies[task.user_id]],
                    max_fields=self.settings.profiles.max_fields,
                )
            note = "; ".join(f"the model's {kind}: {why}" for kind, why in unusable.items())
            finished = await complete_job(session, task.id, job_id, usage, note=note or None)
            await session.commit()
        return finished

    def _memory(
        self, task: Task, user_id: str, messages: list[Message], candidate: Candidate
    ) -> Memory:
        """The memory a candidate makes, from the add's ``messages`` (the user's copies): the
        add's tags before the model's, and, when the model gave no date, the time the
        conversation was held (its last message's ``chat_time``), as a fast memory has."""
        origin = messages[0]
        said = [m.chat_time for m in messages if m.chat_time is not None]
        tags = list(dict.fromkeys([*origin.tags, *candidate.tags]))
        return new_memory(
            text=MemoryText(candidate.key, candidate.value),
            project_id=task.project_id,
            user_id=user_id,
            conversation_id=task.conversation_id,
            agent_id=origin.agent_id,
            app_id=origin.app_id,
            task_id=task.id,
            kind=candidate.kind,
            mode=MemoryMode.FINE,
            memory_type=candidate.memory_type,
            preference_type=candidate.preference_type,
            reasoning=candidate.reasoning,
            tags=tags,
            memory_time=candidate.memory_time or (max(said) if said else None),
            confidence=candidate.confidence,
            embedding=candidate.vector,
            source_message_ids=[m.id for m in messages],
            info=dict(origin.info),
            details=candidate.details,
            prompt_version=candidate.prompt_version,
            knowledgebase_ids=task.knowledgebase_ids or (),
            expires_at=task.expires_at,
        )
