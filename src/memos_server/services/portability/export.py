"""``memos-server export`` and ``GET /admin/v1/projects/{name}/export``: a project as JSON Lines.

The lines are produced as they are read: one snapshot of the database (a repeatable-read
transaction, so a file never holds a memory without the task it names), read in keyset pages of
``PAGE`` rows, each page written out before the next is read. Memory use does not grow with the
project. Messages are named by their number in the project (their ``message_id``), never by the
service's own global ids, so a memory's sources and a history row's stay meaningful elsewhere.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from memos_server.services.embedding_binding import DIMENSION_KEY, MODEL_KEY
from memos_server.services.portability.format import FORMAT, VERSION, dump
from memos_server.storage.database import Database
from memos_server.storage.models import (
    Feedback,
    KnowledgeBase,
    KnowledgeFile,
    KnowledgePassage,
    Memory,
    Message,
    Project,
    Task,
)
from memos_server.storage.repositories.messages import MessageRepository
from memos_server.storage.repositories.meta import MetaRepository
from memos_server.storage.repositories.portability import ExportRepository

PAGE = 1000

# (done, total) records of a kind, after each page.
OnProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ExportScope:
    project: Project
    user_id: str | None = None  # only this user's records (then no knowledge bases)
    embeddings: bool = False  # memories and passages with their vectors


def _task(t: Any) -> dict[str, Any]:
    return {
        "type": "task",
        "id": t.id,
        "kind": t.kind,
        "user_id": t.user_id,
        "conversation_id": t.conversation_id,
        "status": t.status,
        "error": t.error,
        "llm_calls": t.llm_calls,
        "prompt_tokens": t.prompt_tokens,
        "completion_tokens": t.completion_tokens,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
    }


def _message(m: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "number": m.seq,
        "user_id": m.user_id,
        "conversation_id": m.conversation_id,
        "agent_id": m.agent_id,
        "app_id": m.app_id,
        "task_id": m.task_id,
        "role": m.role,
        "content": m.content,
        "content_parts": m.content_parts,
        "tool_call_id": m.tool_call_id,
        "tool_calls": m.tool_calls,
        "chat_time": m.chat_time,
        "tags": m.tags,
        "info": m.info,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
    }


def _history(h: Any, numbers: dict[int, int]) -> dict[str, Any]:
    return {
        "event": h.event,
        "old_value": h.old_value,
        "new_value": h.new_value,
        "source_messages": [numbers[i] for i in h.source_message_ids if i in numbers],
        "task_id": h.task_id,
        "created_at": h.created_at,
    }


def _memory(m: Any, history: list[dict[str, Any]], numbers: dict[int, int]) -> dict[str, Any]:
    return {
        "type": "memory",
        "id": m.id,
        "user_id": m.user_id,
        "conversation_id": m.conversation_id,
        "agent_id": m.agent_id,
        "app_id": m.app_id,
        "task_id": m.task_id,
        "kind": m.kind,
        "mode": m.mode,
        "memory_key": m.memory_key,
        "memory_value": m.memory_value,
        "memory_type": m.memory_type,
        "preference_type": m.preference_type,
        "reasoning": m.reasoning,
        "tags": m.tags,
        "memory_time": m.memory_time,
        "confidence": m.confidence,
        "status": m.status,
        "source_messages": [numbers[i] for i in m.source_message_ids if i in numbers],
        "corrects": m.corrects,
        "info": m.info,
        "prompt_version": m.prompt_version,
        "create_time": m.create_time,
        "update_time": m.update_time,
        "history": history,
    }


def _feedback(f: Any) -> dict[str, Any]:
    return {
        "type": "feedback",
        "task_id": f.task_id,
        "user_id": f.user_id,
        "conversation_id": f.conversation_id,
        "agent_id": f.agent_id,
        "app_id": f.app_id,
        "content": f.content,
        "feedback_time": f.feedback_time,
        "created_at": f.created_at,
    }


def _base(b: Any) -> dict[str, Any]:
    return {
        "type": "knowledge_base",
        "id": b.id,
        "name": b.name,
        "description": b.description,
        "created_at": b.created_at,
    }


def _file(f: Any) -> dict[str, Any]:
    return {
        "type": "knowledge_file",
        "id": f.id,
        "knowledgebase_id": f.knowledgebase_id,
        "task_id": f.task_id,
        "name": f.name,
        "file_type": f.type,
        "size_bytes": f.size_bytes,
        "status": f.status,
        "error": f.error,
        "passages": f.passages,
        "created_at": f.created_at,
        "updated_at": f.updated_at,
    }


def _passage(p: Any) -> dict[str, Any]:
    return {
        "type": "passage",
        "id": p.id,
        "knowledgebase_id": p.knowledgebase_id,
        "file_id": p.file_id,
        "position": p.position,
        "page": p.page,
        "heading": p.heading,
        "text": p.text,
        "created_at": p.created_at,
    }


def _json(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # UUIDs


def line(record: dict[str, Any], embedding: str | None = None) -> bytes:
    return dump(record, embedding, default=_json)


class Exporter:
    """One export of one project (or one user of it), read from ``database``."""

    def __init__(
        self, database: Database, scope: ExportScope, on_progress: OnProgress | None = None
    ) -> None:
        self.database = database
        self.scope = scope
        self.on_progress = on_progress
        self.counts: dict[str, int] = {}

    def _report(self, kind: str, done: int) -> None:
        if self.on_progress is not None:
            self.on_progress(kind, done, self.counts.get(kind, 0))

    async def lines(self) -> AsyncIterator[bytes]:
        """The file, line by line: the header, then every record in the format's order."""
        async with self.database.session() as session:
            read = ExportRepository(session)
            await read.snapshot()
            yield await self._header(session, read)
            project_id, user = self.scope.project.id, self.scope.user_id
            numbers = MessageRepository(session)
            first: list[tuple[Any, Any, Callable[[Any], dict[str, Any]]]] = [
                (Task, Task.id, _task),
                (Message, Message.seq, _message),
            ]
            for model, key, to_record in first:
                async for row in self._pages(read, model, key):
                    yield line(to_record(row))
            done = 0
            after: Any = None
            while rows := await read.page(
                Memory, Memory.id, project_id, user, after, PAGE, self.scope.embeddings
            ):
                memories = rows
                history = await read.history_of([m.id for m in memories])
                sources = {i for m in memories for i in m.source_message_ids}
                sources |= {i for h in history for i in h.source_message_ids}
                known = await numbers.numbers(project_id, sources)
                by_memory: dict[uuid.UUID, list[dict[str, Any]]] = {}
                for h in history:
                    by_memory.setdefault(h.memory_id, []).append(_history(h, known))
                for memory in memories:
                    record = _memory(memory, by_memory.get(memory.id, []), known)
                    yield line(record, memory.embedding_text if self.scope.embeddings else None)
                done += len(rows)
                after = memories[-1].id
                self._report("memory", done)
            if user is None:
                async for deleted in self._deleted_history(read, numbers):
                    yield deleted
            async for row in self._pages(read, Feedback, Feedback.id):
                yield line(_feedback(row))
            if user is None:
                knowledge: list[tuple[Any, Any, Callable[[Any], dict[str, Any]]]] = [
                    (KnowledgeBase, KnowledgeBase.id, _base),
                    (KnowledgeFile, KnowledgeFile.id, _file),
                ]
                for model, key, to_record in knowledge:
                    async for row in self._pages(read, model, key):
                        yield line(to_record(row))
                async for row in self._pages(
                    read, KnowledgePassage, KnowledgePassage.id, self.scope.embeddings
                ):
                    vector = row.embedding_text if self.scope.embeddings else None
                    yield line(_passage(row), vector)

    async def _pages(
        self, read: ExportRepository, model: Any, key: Any, vector: bool = False
    ) -> AsyncIterator[Any]:
        kind = _KINDS[model]
        done, after = 0, None
        project_id, user = self.scope.project.id, self.scope.user_id
        while rows := await read.page(model, key, project_id, user, after, PAGE, vector):
            for row in rows:
                yield row
            done += len(rows)
            after = getattr(rows[-1], key.key)
            self._report(kind, done)

    async def _deleted_history(
        self, read: ExportRepository, numbers: MessageRepository
    ) -> AsyncIterator[bytes]:
        project_id = self.scope.project.id
        done, after = 0, None
        while ids := await read.deleted_memories(project_id, after, PAGE):
            history = await read.history_of(ids)
            known = await numbers.numbers(
                project_id, {i for h in history for i in h.source_message_ids}
            )
            by_memory: dict[uuid.UUID, list[dict[str, Any]]] = {}
            for h in history:
                by_memory.setdefault(h.memory_id, []).append(_history(h, known))
            for memory_id in ids:
                rows_of = by_memory[memory_id]
                yield line({"type": "history", "memory_id": memory_id, "history": rows_of})
            done += len(ids)
            after = ids[-1]
            self._report("history", done)

    async def _header(self, session: Any, read: ExportRepository) -> bytes:
        project, user = self.scope.project, self.scope.user_id
        meta = MetaRepository(session)
        dimension = await meta.get(DIMENSION_KEY)
        counts = {
            kind: await read.count(model, project.id, user)
            for model, kind in _KINDS.items()
            if user is None or model not in _PROJECT_WIDE
        }
        if user is None:
            counts["history"] = await read.deleted_history_count(project.id)
        self.counts = counts
        last = await session.get(Project, project.id)
        header = {
            "type": "header",
            "format": FORMAT,
            "version": VERSION,
            "exported_at": datetime.now(UTC),
            "project_id": project.id,
            "project": project.name,
            "user_id": user,
            "embeddings": self.scope.embeddings,
            "model": await meta.get(MODEL_KEY),
            "dimension": int(dimension) if dimension else None,
            "message_seq": last.message_seq if last is not None else 0,
            "counts": counts,
        }
        return line(header)


_KINDS: dict[Any, str] = {
    Task: "task",
    Message: "message",
    Memory: "memory",
    Feedback: "feedback",
    KnowledgeBase: "knowledge_base",
    KnowledgeFile: "knowledge_file",
    KnowledgePassage: "passage",
}
_PROJECT_WIDE = (KnowledgeBase, KnowledgeFile, KnowledgePassage)
