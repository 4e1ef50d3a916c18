"""What the web console reads that the MemOS API does not show: a project's users with counts, a
user's conversations, a conversation's messages with the memories made from each, a user's
memories whatever their status, and a memory's history.

Everything is scoped to the caller's project: a user id, conversation id or memory id of another
project names nothing here. The console changes memories through the public API (update/memory,
delete/memory), so there is nothing to write in this module.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.services.limits import check_ids
from memos_server.services.memory_admin import memory_id_of, memory_not_found
from memos_server.settings import Settings
from memos_server.storage.models import Memory, MemoryHistory, Message
from memos_server.storage.repositories.history import HistoryRepository
from memos_server.storage.repositories.memories import MemoryRepository
from memos_server.storage.repositories.memory_scopes import Selection
from memos_server.storage.repositories.messages import MessageRepository
from memos_server.storage.repositories.projects import ProjectRepository
from memos_server.storage.repositories.users import ConversationCounts, UserCounts, UserRepository
from memos_server.storage.vocabulary import MemoryKind

T = TypeVar("T")

KINDS = tuple(MemoryKind)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int  # over all pages


async def project_name(session: AsyncSession, project_id: uuid.UUID) -> str:
    project = await ProjectRepository(session).get(project_id)
    return project.name if project is not None else ""


async def list_users(
    session: AsyncSession, project_id: uuid.UUID, offset: int, limit: int
) -> Page[UserCounts]:
    """The project's users, most recently active first."""
    users, total = await UserRepository(session).with_counts(project_id, offset, limit)
    return Page(users, total)


async def list_conversations(
    session: AsyncSession,
    settings: Settings,
    project_id: uuid.UUID,
    user_id: str,
    offset: int,
    limit: int,
) -> Page[ConversationCounts]:
    """The user's conversations, the one with the latest message first."""
    check_ids(settings.limits, user_id)
    found, total = await UserRepository(session).conversations(project_id, user_id, offset, limit)
    return Page(found, total)


@dataclass(frozen=True)
class ConversationView:
    """A page of a conversation's messages and every memory made from any of them."""

    messages: list[Message]
    total: int  # the conversation's messages, over all pages
    memories: list[Memory]


async def read_conversation(
    session: AsyncSession,
    settings: Settings,
    project_id: uuid.UUID,
    user_id: str,
    conversation_id: str,
    offset: int,
    limit: int,
) -> ConversationView:
    check_ids(settings.limits, user_id, conversation_id)
    messages, total = await MessageRepository(session).conversation_page(
        project_id, user_id, conversation_id, offset, limit
    )
    memories = await MemoryRepository(session).made_from(
        project_id, user_id, [m.id for m in messages]
    )
    return ConversationView(messages, total, memories)


async def list_user_memories(
    session: AsyncSession,
    settings: Settings,
    project_id: uuid.UUID,
    user_id: str,
    *,
    status: str | None,
    kind: str | None,
    offset: int,
    limit: int,
) -> Page[Memory]:
    """The user's memories newest first; ``status`` and ``kind`` None: all of them."""
    check_ids(settings.limits, user_id)
    selection = Selection(project_id, user_id=user_id, kind=kind, status=status)
    repository = MemoryRepository(session)
    counts = await repository.count_selected(selection, [kind] if kind else KINDS)
    total = sum(counts.values())
    found = await repository.newest(selection, offset, limit) if offset < total else []
    return Page(found, total)


@dataclass(frozen=True)
class MemoryStory:
    memory: Memory | None  # None once deleted: its history outlives it
    history: list[MemoryHistory]  # the newest changes asked for, oldest first
    messages: list[Message]  # the messages the history rows and the memory name
    changes: int  # how many history rows it has in all


async def memory_story(
    session: AsyncSession, project_id: uuid.UUID, raw_id: str, limit: int
) -> MemoryStory:
    """A memory of the project as it is now, its newest ``limit`` changes and the messages they
    came from, and how many changes it has."""
    memory_id = memory_id_of(raw_id)
    memory = await MemoryRepository(session).find(project_id, memory_id)
    history, changes = await HistoryRepository(session).for_memory(project_id, memory_id, limit)
    if memory is None and not history:
        raise memory_not_found(raw_id)
    cited = {i for row in history for i in row.source_message_ids}
    if memory is not None:
        cited.update(memory.source_message_ids)
    messages = await MessageRepository(session).by_ids(project_id, sorted(cited))
    return MemoryStory(memory, history, messages, changes)
