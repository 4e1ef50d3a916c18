"""A memory as search reads it: its values in a plain object, not an ORM ``Memory``.

Search reads up to 20 candidates of each kind it looks for (its recency step compares them) to
answer with a few; building an ORM object with its instance state cost about 25 µs a row, and
SQLAlchemy's per-column result processing as much again. ``MemoryRow`` holds what a search result
shows or is ordered by, and what the feedback job reads of it (not the vectors, the full-text
columns, nor what only get/memory shows: ``api.memory_items.owner_fields`` takes a ``Memory``);
the item builders read either kind of object (``MemoryOrRow``).
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
    user_id: str
    conversation_id: str | None
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
    details: dict[str, Any]
    create_time: datetime
    update_time: datetime


# The columns of a ``MemoryRow``, in its fields' order (a SELECT of these builds one by position).
ROW_COLUMNS = tuple(field.name for field in fields(MemoryRow))

MemoryOrRow = Memory | MemoryRow
