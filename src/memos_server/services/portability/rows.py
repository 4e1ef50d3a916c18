"""Records of an export made rows of this instance, with their ids and references already
decided (``import_.py``). Memories and their history rows are made by ``memory_writer`` (their
search text derived there, as for any memory); passages' words as the document job makes them.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Table

from memos_server.services.memory_writer import (
    Carried,
    MemoryText,
    history_values,
    new_memory_values,
)
from memos_server.services.portability.format import (
    FeedbackRecord,
    HistoryRow,
    KnowledgeBaseRecord,
    KnowledgeFileRecord,
    MemoryRecord,
    MessageRecord,
    PassageRecord,
    TaskRecord,
)
from memos_server.storage.models import (
    Feedback,
    KnowledgeBase,
    KnowledgeFile,
    KnowledgePassage,
    Memory,
    MemoryHistory,
    Message,
    Task,
)
from memos_server.storage.vocabulary import (
    FileStatus,
    HistoryEvent,
    MemoryKind,
    MemoryMode,
    MemoryStatus,
    TaskStatus,
)

_MEMORIES: Table = Memory.__table__  # type: ignore[assignment]
_HISTORY: Table = MemoryHistory.__table__  # type: ignore[assignment]
_MESSAGES: Table = Message.__table__  # type: ignore[assignment]

# A task or document exported before it finished: nothing of its work came along to finish it.
UNFINISHED = "exported before it finished; imported as failed"


def task(r: TaskRecord, *, id: uuid.UUID, project_id: uuid.UUID) -> Task:
    running = r.status == TaskStatus.RUNNING
    return Task(
        id=id,
        project_id=project_id,
        kind=r.kind,
        user_id=r.user_id,
        conversation_id=r.conversation_id,
        status=TaskStatus.FAILED if running else r.status,
        error=UNFINISHED if running else r.error,
        llm_calls=r.llm_calls,
        prompt_tokens=r.prompt_tokens,
        completion_tokens=r.completion_tokens,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def message(
    r: MessageRecord, *, seq: int, project_id: uuid.UUID, task_id: uuid.UUID | None
) -> tuple[Table, dict[str, Any]]:
    """A message's row (values, not an object: thousands are inserted at a time, and an ORM
    object's attribute events cost more than the insert)."""
    return _MESSAGES, dict(
        project_id=project_id,
        seq=seq,
        user_id=r.user_id,
        conversation_id=r.conversation_id,
        agent_id=r.agent_id,
        app_id=r.app_id,
        task_id=task_id,
        role=r.role,
        role_id=r.role_id,
        role_name=r.role_name,
        content=r.content,
        content_parts=r.content_parts,
        tool_call_id=r.tool_call_id,
        tool_calls=r.tool_calls,
        chat_time=r.chat_time,
        tags=r.tags,
        info=r.info,
        source=r.source,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def memory(
    r: MemoryRecord,
    *,
    text: MemoryText,
    id: uuid.UUID,
    project_id: uuid.UUID,
    embedding: list[float],
    task_id: uuid.UUID | None,
    sources: list[int],
    corrects: list[uuid.UUID],
    knowledgebase_ids: list[uuid.UUID],
) -> tuple[Table, dict[str, Any]]:
    """A memory's row, as ``memory_writer`` makes every memory's (values, not an object: the
    import inserts thousands at a time)."""
    return _MEMORIES, new_memory_values(
        text=text,
        project_id=project_id,
        user_id=r.user_id,
        kind=MemoryKind(r.kind),
        mode=MemoryMode(r.mode),
        memory_type=r.memory_type,
        embedding=embedding,
        conversation_id=r.conversation_id,
        agent_id=r.agent_id,
        app_id=r.app_id,
        task_id=task_id,
        tags=r.tags,
        memory_time=r.memory_time,
        confidence=r.confidence,
        preference_type=r.preference_type,
        reasoning=r.reasoning,
        source_message_ids=sources,
        corrects=corrects,
        info=r.info,
        details=r.details,
        prompt_version=r.prompt_version,
        knowledgebase_ids=knowledgebase_ids,
        expires_at=r.expires_at,
        carried=Carried(
            id=id,
            status=MemoryStatus(r.status),
            create_time=r.create_time,
            update_time=r.update_time,
        ),
    )


def history(
    h: HistoryRow,
    *,
    memory_id: uuid.UUID,
    project_id: uuid.UUID,
    sources: list[int],
    task_id: uuid.UUID | None,
) -> tuple[Table, dict[str, Any]]:
    return _HISTORY, history_values(
        memory_id=memory_id,
        project_id=project_id,
        event=HistoryEvent(h.event),
        old_value=h.old_value,
        new_value=h.new_value,
        source_message_ids=sources,
        task_id=task_id,
        created_at=h.created_at,
    )


def feedback(r: FeedbackRecord, *, project_id: uuid.UUID, task_id: uuid.UUID) -> Feedback:
    return Feedback(
        project_id=project_id,
        user_id=r.user_id,
        conversation_id=r.conversation_id,
        agent_id=r.agent_id,
        app_id=r.app_id,
        task_id=task_id,
        content=r.content,
        feedback_time=r.feedback_time,
        created_at=r.created_at,
    )


def knowledge_base(
    r: KnowledgeBaseRecord, *, id: uuid.UUID, project_id: uuid.UUID
) -> KnowledgeBase:
    return KnowledgeBase(
        id=id,
        project_id=project_id,
        name=r.name,
        description=r.description,
        created_at=r.created_at,
    )


def knowledge_file(
    r: KnowledgeFileRecord,
    *,
    id: uuid.UUID,
    project_id: uuid.UUID,
    knowledgebase_id: uuid.UUID,
    task_id: uuid.UUID,
) -> KnowledgeFile:
    # The document itself is not exported: one still being read cannot be finished here.
    running = r.status == FileStatus.RUNNING
    return KnowledgeFile(
        id=id,
        project_id=project_id,
        knowledgebase_id=knowledgebase_id,
        task_id=task_id,
        name=r.name,
        type=r.file_type,
        size_bytes=r.size_bytes,
        status=FileStatus.FAILED if running else r.status,
        error=UNFINISHED if running else r.error,
        passages=r.passages,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def passage(
    r: PassageRecord,
    *,
    id: uuid.UUID,
    project_id: uuid.UUID,
    knowledgebase_id: uuid.UUID,
    file_id: uuid.UUID,
    embedding: list[float],
    search_text: str,
    created_at: datetime,
) -> KnowledgePassage:
    return KnowledgePassage(
        id=id,
        project_id=project_id,
        knowledgebase_id=knowledgebase_id,
        file_id=file_id,
        position=r.position,
        page=r.page,
        heading=r.heading,
        text=r.text,
        embedding=embedding,
        search_text=search_text,
        created_at=created_at,
    )


def message_digest(record: MessageRecord) -> str:
    """What tells a message apart (its user, conversation, role and text) as
    ``PortabilityRepository.message_digests`` computes it of a stored one."""
    fields = "\x1f".join((record.user_id, record.conversation_id, record.role, record.content))
    return hashlib.md5(fields.encode(), usedforsecurity=False).hexdigest()
