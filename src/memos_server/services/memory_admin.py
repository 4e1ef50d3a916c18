"""Managing stored memories: list them a page at a time, read one, change one, delete many.

Everything is scoped to the caller's project. Listing and reading show active, unexpired
memories only (``docs/retention.md``); update also reaches archived ones (it can reactivate a
memory), and delete archived and expired ones too (deleting a user's memories leaves none of
them behind). Deletion is one set-based statement that writes a
DELETE history row per memory, so it costs the same one request for ten memories or ten thousand.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.embedding import Embedder
from memos_server.errors import BadRequest, MemoryNotFound, RequiredFieldEmpty, UnsupportedType
from memos_server.filters import parse_memory_filter
from memos_server.services.limits import check_ids, check_text
from memos_server.services.memory_views import KIND_OF_TYPE, kinds_of, parse_views
from memos_server.services.memory_writer import MemoryText, history_row, revise
from memos_server.settings import Settings
from memos_server.storage.models import Memory
from memos_server.storage.paging import offset_of
from memos_server.storage.repositories.memories import MemoryRepository
from memos_server.storage.repositories.memory_scopes import Selection
from memos_server.storage.repositories.tasks import TaskRepository
from memos_server.storage.vocabulary import HistoryEvent, MemoryKind, MemoryStatus, PreferenceType

FACT_TYPES = ("WorkingMemory", "LongTermMemory", "UserMemory")
PREFERENCE_TYPES = tuple(PreferenceType)
ALL_PREFERENCES = "PreferenceMemory"
MEMORY_TYPES = (*FACT_TYPES, ALL_PREFERENCES, *PREFERENCE_TYPES, *KIND_OF_TYPE)


@dataclass(frozen=True)
class ListQuery:
    user_id: str | None
    agent_id: str | None = None
    page: int = 1
    size: int = 10
    filter: dict[str, Any] | None = None
    include_preference: bool = True
    include_tool_memory: bool = False
    # get/memory's include_memory_view as sent: set, it alone says which kinds are listed.
    memory_views: Sequence[str] | None = None


@dataclass(frozen=True)
class MemoryPage:
    """Page ``page`` of each kind's list, each newest first, ``size`` per page."""

    lists: dict[str, list[Memory]]
    totals: dict[str, int]
    page: int
    size: int

    @property
    def facts(self) -> list[Memory]:
        return self.lists.get(MemoryKind.FACT, [])

    @property
    def preferences(self) -> list[Memory]:
        return self.lists.get(MemoryKind.PREFERENCE, [])

    @property
    def fact_total(self) -> int:
        return self.totals.get(MemoryKind.FACT, 0)

    @property
    def preference_total(self) -> int:
        return self.totals.get(MemoryKind.PREFERENCE, 0)

    def of(self, kind: MemoryKind) -> list[Memory]:
        return self.lists.get(kind, [])

    @property
    def pages(self) -> int:
        """Enough pages to reach the end of the longest list (0 when all are empty)."""
        return math.ceil(max(self.totals.values(), default=0) / self.size)


def listed_kinds(query: ListQuery) -> list[MemoryKind]:
    """The kinds get/memory lists: the views named, else facts and the older flags' kinds."""
    views = parse_views("include_memory_view", query.memory_views)
    if views is not None:
        return kinds_of(views)
    flags = {
        MemoryKind.FACT: True,
        MemoryKind.PREFERENCE: query.include_preference,
        MemoryKind.TOOL: query.include_tool_memory,
    }
    return [kind for kind, wanted in flags.items() if wanted]


async def _list(
    session: AsyncSession, settings: Settings, project_id: uuid.UUID, query: ListQuery
) -> MemoryPage:
    if query.user_id is None and query.agent_id is None:
        raise RequiredFieldEmpty("user_id is required (or agent_id, for one agent's memories)")
    check_ids(settings.limits, query.user_id, agent_id=query.agent_id)
    selection = Selection(
        project_id,
        user_id=query.user_id,
        agent_id=query.agent_id,
        where=parse_memory_filter(query.filter),
        status=MemoryStatus.ACTIVATED,
    )
    kinds = listed_kinds(query)
    repository = MemoryRepository(session)
    totals = await repository.count_selected(selection, kinds) if kinds else {}
    offset = offset_of(query.page, query.size)
    found: dict[str, list[Memory]] = {kind: [] for kind in MemoryKind}
    for kind in kinds:
        if offset < totals[kind]:
            found[kind] = await repository.newest(replace(selection, kind=kind), offset, query.size)
    return MemoryPage(lists=found, totals=totals, page=query.page, size=query.size)


def memory_id_of(raw: str) -> uuid.UUID:
    """The id as a UUID; anything else names no memory."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise memory_not_found(raw) from None


def memory_not_found(raw: str) -> MemoryNotFound:
    shown = raw if len(raw) <= 100 else raw[:100] + "…"
    return MemoryNotFound(f"memory not found: {shown!r}")


async def _get(session: AsyncSession, project_id: uuid.UUID, raw_id: str) -> Memory:
    memory = await MemoryRepository(session).find(project_id, memory_id_of(raw_id))
    if memory is None or memory.status != MemoryStatus.ACTIVATED:
        raise memory_not_found(raw_id)
    return memory


@dataclass(frozen=True)
class DeleteQuery:
    memory_ids: Sequence[str] | None = None
    user_id: str | None = None
    agent_id: str | None = None
    filter: dict[str, Any] | None = None
    memory_type: str | None = None


SELECTORS = "give exactly one of memory_ids, user_id, agent_id or filter"


def _selection(project_id: uuid.UUID, query: DeleteQuery) -> Selection:
    given = [
        name
        for name, value in (
            ("memory_ids", query.memory_ids),
            ("user_id", query.user_id),
            ("agent_id", query.agent_id),
            ("filter", query.filter),
        )
        if value is not None and value != []
    ]
    if not given:
        raise RequiredFieldEmpty(f"{SELECTORS} (filter may be combined with user_id)")
    if len(given) > 1 and sorted(given) != ["filter", "user_id"]:
        raise BadRequest(
            f"{SELECTORS} (filter may be combined with user_id); got {', '.join(given)}"
        )
    where = parse_memory_filter(query.filter)
    if query.filter is not None and where is None:
        raise BadRequest("filter is empty: it would select every memory of the project")
    ids = None
    if query.memory_ids:
        ids = tuple(_delete_id(i, raw) for i, raw in enumerate(query.memory_ids))
    kind, memory_type, preference_type = _of_type(query.memory_type)
    return Selection(
        project_id,
        user_id=query.user_id,
        agent_id=query.agent_id,
        ids=ids,
        where=where,
        kind=kind,
        memory_type=memory_type,
        preference_type=preference_type,
        expired=True,  # a deletion takes expired memories too, before the sweep does
    )


def _delete_id(index: int, raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise BadRequest(f"memory_ids[{index}] is not a memory id: {raw[:100]!r}") from None


def _of_type(memory_type: str | None) -> tuple[str | None, str | None, str | None]:
    """What ``memory_type`` narrows a deletion to: (kind, memory_type, preference_type)."""
    if memory_type is None:
        return None, None, None
    if memory_type in FACT_TYPES:
        return MemoryKind.FACT, memory_type, None
    if memory_type == ALL_PREFERENCES:
        return MemoryKind.PREFERENCE, None, None
    if memory_type in PREFERENCE_TYPES:
        return MemoryKind.PREFERENCE, None, memory_type
    if memory_type in KIND_OF_TYPE:
        return KIND_OF_TYPE[memory_type], None, None
    raise UnsupportedType(
        f"memory_type {memory_type[:100]!r} is not one of {', '.join(MEMORY_TYPES)}"
    )


@dataclass(frozen=True)
class MemoryChange:
    memory_id: str
    content: str | None = None
    title: str | None = None
    status: str | None = None


async def _update(
    session: AsyncSession,
    embedder: Embedder,
    settings: Settings,
    project_id: uuid.UUID,
    change: MemoryChange,
) -> Memory:
    if change.content is None and change.title is None and change.status is None:
        raise RequiredFieldEmpty("content, title or status is required")
    for name, text in (("content", change.content), ("title", change.title)):
        if text is not None:
            check_text(settings.limits, name, text)
    memory_id = memory_id_of(change.memory_id)
    # Embed before locking the row, so no lock is held while the model works.
    vector = (await embedder.embed([change.content]))[0] if change.content is not None else None
    repository = MemoryRepository(session)
    owner = await repository.owner(project_id, memory_id)
    if owner is not None:
        # As an add does: a delete/user or delete/message of the owner waits for this update
        # to commit and then deletes its history row too, or this update finds nothing.
        await TaskRepository(session).lock_user(project_id, owner, exclusive=False)
    memory = await repository.find(project_id, memory_id, lock=True)
    if memory is None:
        raise memory_not_found(change.memory_id)
    value = change.content if change.content is not None else memory.memory_value
    key = change.title if change.title is not None else memory.memory_key
    status = change.status or memory.status
    if (value, key, status) == (memory.memory_value, memory.memory_key, memory.status):
        return memory
    archived = status == MemoryStatus.ARCHIVED and memory.status != MemoryStatus.ARCHIVED
    event = HistoryEvent.ARCHIVE if archived else HistoryEvent.UPDATE
    history = history_row(
        memory_id=memory.id,
        project_id=project_id,
        event=event,
        old_value=memory.memory_value,
        new_value=value,
    )
    if (value, key) != (memory.memory_value, memory.memory_key):
        # Segmenting a long text is CPU work: off the event loop.
        revised = await asyncio.to_thread(MemoryText, key, value)
        revise(memory, text=revised, embedding=vector if value != memory.memory_value else None)
    memory.status = status
    await repository.save(memory, history)
    return memory


class MemoryAdmin:
    """get/memory, get/memory/{id}, delete/memory and update/memory; built once per process."""

    def __init__(self, *, embedder: Callable[[], Embedder], settings: Settings) -> None:
        """``embedder``: the current model, asked when an update re-embeds a text."""
        self._embedder = embedder
        self.settings = settings

    async def page(
        self, session: AsyncSession, *, project_id: uuid.UUID, query: ListQuery
    ) -> MemoryPage:
        """A page of the user's (or the agent's) active memories, newest first."""
        return await _list(session, self.settings, project_id, query)

    async def get(self, session: AsyncSession, *, project_id: uuid.UUID, memory_id: str) -> Memory:
        """The project's active memory with this id (MemoryNotFound otherwise)."""
        return await _get(session, project_id, memory_id)

    async def delete(
        self, session: AsyncSession, *, project_id: uuid.UUID, query: DeleteQuery
    ) -> int:
        """Delete the selected memories (active or archived); how many were deleted."""
        check_ids(self.settings.limits, query.user_id, agent_id=query.agent_id)
        return await MemoryRepository(session).delete_selected(_selection(project_id, query))

    async def update(
        self, session: AsyncSession, *, project_id: uuid.UUID, change: MemoryChange
    ) -> Memory:
        """Rewrite a memory's text (re-embedded, re-indexed), title or status, with a history
        row. A change that changes nothing (a retried update) writes nothing."""
        return await _update(session, self._embedder(), self.settings, project_id, change)
