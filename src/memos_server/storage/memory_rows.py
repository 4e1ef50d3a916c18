"""A memory as search reads it: its values in a plain object, not an ORM ``Memory``.

Search reads up to 20 candidates of each kind it looks for (its recency step compares them) to
answer with a few; building an ORM object with its instance state cost about 25 µs a row, and
SQLAlchemy's per-column result processing as much again. ``MemoryRow`` holds what a result shows
or orders by (not the vectors, nor the full-text columns); the responses read either kind of
object (``StoredMemory``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from memos_server.storage.models import Memory


@dataclass(frozen=True, slots=True)
class MemoryRow:
    id: uuid.UUID
    project_id: uuid.UUID
    user_id: str
    conversation_id: str | None
    agent_id: str | None
    app_id: str | None
    task_id: uuid.UUID | None
    kind: str
    mode: str
    memory_key: str
    memory_value: str
    memory_type: str
    preference_type: str | None
    reasoning: str | None
    tags: list[str]
    memory_time: datetime | None
    confidence: float
    status: str
    source_message_ids: list[int]
    corrects: list[uuid.UUID]
    knowledgebase_ids: list[uuid.UUID]
    info: dict[str, Any]
    details: dict[str, Any]
    prompt_version: str | None
    create_time: datetime
    update_time: datetime
    expires_at: datetime | None


# The columns of a ``MemoryRow``, in its fields' order (a SELECT of these builds one by position).
ROW_COLUMNS = tuple(field.name for field in fields(MemoryRow))

StoredMemory = Memory | MemoryRow
