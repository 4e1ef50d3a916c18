"""The one writer of memories: every path that makes or rewrites a memory goes through here.

A memory's ``search_text`` (the tokens the full-text channel indexes) must follow its key and
value exactly; a path that forgot to recompute it would leave the memory invisible to word
search with no error anywhere. So the text of a memory travels as a ``MemoryText``, which
derives the tokens from the key and value it holds: a caller cannot pass search text of its
own, nor a key and value without their tokens. The one exception is an import of words made by
this same segmenter (``MemoryText.carried``, checked against ``words_version``).

Segmenting a long text is CPU work (half a second for a 32,000-character add). Making a
``MemoryText`` is that work and nothing else, so callers with long texts make it in a thread
(``asyncio.to_thread``) and hand it to ``new_memory`` or ``revise`` on the event loop.

History rows are built here too (``history_row``, ``added_row``), so each event is recorded the
same way whichever path caused it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ParamSpec

from sqlalchemy import func

from memos_server.storage.models import Memory, MemoryHistory
from memos_server.storage.vocabulary import HistoryEvent, MemoryKind, MemoryMode, MemoryStatus
from memos_server.text.tokens import memory_tokens

P = ParamSpec("P")


@dataclass(frozen=True)
class MemoryText:
    """A memory's key and value with the search text derived from them.

    The search text is not an argument: it is computed here, from this key and value, so no
    caller can hand in tokens that do not match. CPU work for long texts: make it in a thread.
    """

    key: str
    value: str
    search_text: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "search_text", memory_tokens(self.key, self.value))

    @classmethod
    def carried(cls, key: str, value: str, search_text: str) -> MemoryText:
        """A memory's text with the words an export carried: only for words made under this
        instance's ``words_version`` (the import checks the file's header), which are the words
        ``memory_tokens`` would make again, at a third of a millisecond a memory."""
        text = object.__new__(cls)
        object.__setattr__(text, "key", key)
        object.__setattr__(text, "value", value)
        object.__setattr__(text, "search_text", search_text)
        return text


@dataclass(frozen=True)
class Carried:
    """What an imported memory keeps from where it was made (``services/portability``): its id,
    status and times. A memory made here has none of them (a new id, active, now)."""

    id: uuid.UUID | None = None
    status: MemoryStatus = MemoryStatus.ACTIVATED
    create_time: datetime | None = None
    update_time: datetime | None = None

    def times(self) -> dict[str, datetime]:
        kept = {"create_time": self.create_time, "update_time": self.update_time}
        return {name: value for name, value in kept.items() if value is not None}


def new_memory_values(
    *,
    text: MemoryText,
    project_id: uuid.UUID,
    user_id: str,
    kind: MemoryKind,
    mode: MemoryMode,
    memory_type: str,
    embedding: list[float],
    conversation_id: str | None,
    agent_id: str | None = None,
    app_id: str | None = None,
    task_id: uuid.UUID | None = None,
    tags: Sequence[str] = (),
    memory_time: datetime | None = None,
    confidence: float = 1.0,
    preference_type: str | None = None,
    reasoning: str | None = None,
    source_message_ids: Sequence[int] = (),
    corrects: Sequence[uuid.UUID] = (),
    info: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    prompt_version: str | None = None,
    knowledgebase_ids: Sequence[uuid.UUID] = (),
    expires_at: datetime | None = None,
    carried: Carried | None = None,
) -> dict[str, Any]:
    """A new memory's column values (``new_memory`` makes them a ``Memory``; an import inserts
    them as they are, thousands at a time, where building objects cost more than storing).

    ``expires_at``: when it stops being returned and is purged (None: never). ``carried``: a
    memory brought from another instance (an import) keeps its id, status and times; everything
    else, its search text first, is made here as for any new memory."""
    kept = carried or Carried()
    return dict(
        id=kept.id or uuid.uuid4(),
        project_id=project_id,
        user_id=user_id,
        conversation_id=conversation_id,
        agent_id=agent_id,
        app_id=app_id,
        task_id=task_id,
        kind=kind,
        mode=mode,
        memory_key=text.key,
        memory_value=text.value,
        search_text=text.search_text,
        memory_type=memory_type,
        preference_type=preference_type,
        reasoning=reasoning,
        tags=list(tags),
        memory_time=memory_time,
        confidence=confidence,
        status=kept.status,
        embedding=embedding,
        source_message_ids=list(source_message_ids),
        corrects=list(corrects),
        knowledgebase_ids=list(knowledgebase_ids),
        info={} if info is None else info,
        details={} if details is None else details,
        prompt_version=prompt_version,
        expires_at=expires_at,
        **kept.times(),
    )


def _as_memory(values: Callable[P, dict[str, Any]]) -> Callable[P, Memory]:
    def build(*args: P.args, **kwargs: P.kwargs) -> Memory:
        return Memory(**values(*args, **kwargs))

    return build


# A new active memory with its id already set (its history rows name it before a flush): the
# values of ``new_memory_values`` (same arguments) as a ``Memory``.
new_memory = _as_memory(new_memory_values)


def revise(
    memory: Memory,
    *,
    text: MemoryText,
    embedding: list[float] | None = None,
    more_sources: Sequence[int] = (),
    details: dict[str, Any] | None = None,
) -> None:
    """Give a stored memory a new key and value (their search text with them), its new vector
    when there is one, the messages it now also comes from and, when given, its kind's fields
    (``details``); its update time is now."""
    memory.memory_key = text.key
    memory.memory_value = text.value
    memory.search_text = text.search_text
    if embedding is not None:
        memory.embedding = embedding
    if more_sources:
        memory.source_message_ids = [*memory.source_message_ids, *more_sources]
    if details is not None:
        memory.details = details
    memory.update_time = func.now()


def archive(memory: Memory) -> None:
    """Take a stored memory out of search: superseded, kept for its history."""
    memory.status = MemoryStatus.ARCHIVED
    memory.update_time = func.now()


def history_row(
    *,
    memory_id: uuid.UUID,
    project_id: uuid.UUID,
    event: HistoryEvent,
    old_value: str | None = None,
    new_value: str | None = None,
    source_message_ids: Sequence[int] = (),
    task_id: uuid.UUID | None = None,
    created_at: datetime | None = None,
) -> MemoryHistory:
    """One event in a memory's history (DELETE rows are written by the set-based delete);
    ``created_at`` only for a row carried from another instance (an import)."""
    return MemoryHistory(
        **history_values(
            memory_id=memory_id,
            project_id=project_id,
            event=event,
            old_value=old_value,
            new_value=new_value,
            source_message_ids=source_message_ids,
            task_id=task_id,
            created_at=created_at,
        )
    )


def history_values(
    *,
    memory_id: uuid.UUID,
    project_id: uuid.UUID,
    event: HistoryEvent,
    old_value: str | None = None,
    new_value: str | None = None,
    source_message_ids: Sequence[int] = (),
    task_id: uuid.UUID | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """A history row's column values (``history_row`` makes them a row)."""
    values: dict[str, Any] = dict(
        memory_id=memory_id,
        project_id=project_id,
        event=event,
        old_value=old_value,
        new_value=new_value,
        source_message_ids=list(source_message_ids),
        task_id=task_id,
    )
    if created_at is not None:
        values["created_at"] = created_at
    return values


def added_row(memory: Memory) -> MemoryHistory:
    """The ADD row of a memory made by ``new_memory``: its value, sources and task."""
    return history_row(
        memory_id=memory.id,
        project_id=memory.project_id,
        event=HistoryEvent.ADD,
        new_value=memory.memory_value,
        source_message_ids=memory.source_message_ids,
        task_id=memory.task_id,
    )
