"""Users and their conversations. Neither has a table of its own: a user is whoever a project's
messages or memories name, a conversation whatever its messages name, so both are aggregates."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import FromClause

from memos_server.storage.models import Memory, Message
from memos_server.storage.repositories.memory_scopes import live
from memos_server.storage.vocabulary import MemoryKind, MemoryStatus


@dataclass(frozen=True)
class UserCounts:
    user_id: str
    messages: int
    conversations: int
    facts: int  # active
    preferences: int  # active
    archived: int
    last_active: datetime | None  # the newest message or memory change


@dataclass(frozen=True)
class ConversationCounts:
    conversation_id: str
    messages: int
    memories: int  # active memories made in it
    first_time: datetime
    last_time: datetime


def _counts(row: RowMapping) -> dict[str, Any]:
    """A page row's own columns (without the ``total`` every row carries)."""
    return {key: value for key, value in row.items() if key != "total"}


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def with_counts(
        self, project_id: uuid.UUID, offset: int, limit: int
    ) -> tuple[list[UserCounts], int]:
        """A page of the project's users, most recently active first, and how many there are.

        One aggregate of messages and one of memories, joined on the user: both read only the
        project's rows, through the (project, user, ...) indexes.
        """
        said = (
            select(
                Message.user_id.label("user_id"),
                func.count().label("messages"),
                func.count(distinct(Message.conversation_id)).label("conversations"),
                func.max(Message.created_at).label("last"),
            )
            .where(Message.project_id == project_id)
            .group_by(Message.user_id)
            .subquery()
        )
        active = Memory.status == MemoryStatus.ACTIVATED
        kept = (
            select(
                Memory.user_id.label("user_id"),
                func.count().filter(active, Memory.kind == MemoryKind.FACT).label("facts"),
                func.count()
                .filter(active, Memory.kind == MemoryKind.PREFERENCE)
                .label("preferences"),
                func.count().filter(Memory.status == MemoryStatus.ARCHIVED).label("archived"),
                func.max(Memory.update_time).label("last"),
            )
            .where(Memory.project_id == project_id, live())
            .group_by(Memory.user_id)
            .subquery()
        )
        user = func.coalesce(said.c.user_id, kept.c.user_id)
        last = func.greatest(said.c.last, kept.c.last)  # greatest() skips NULLs in Postgres
        users = (
            select(
                user.label("user_id"),
                func.coalesce(said.c.messages, 0).label("messages"),
                func.coalesce(said.c.conversations, 0).label("conversations"),
                func.coalesce(kept.c.facts, 0).label("facts"),
                func.coalesce(kept.c.preferences, 0).label("preferences"),
                func.coalesce(kept.c.archived, 0).label("archived"),
                last.label("last_active"),
            )
            .select_from(said.join(kept, said.c.user_id == kept.c.user_id, full=True))
            .cte("users")
        )
        total = select(func.count()).select_from(users).scalar_subquery()
        rows = await self.session.execute(
            select(users, total.label("total"))
            .order_by(users.c.last_active.desc().nulls_last(), users.c.user_id)
            .offset(offset)
            .limit(limit)
        )
        found = rows.mappings().all()
        count = int(found[0]["total"]) if found else await self._count(users)
        return [UserCounts(**_counts(row)) for row in found], count

    async def conversations(
        self, project_id: uuid.UUID, user_id: str, offset: int, limit: int
    ) -> tuple[list[ConversationCounts], int]:
        """A page of the user's conversations, latest message first, and how many there are."""
        when = func.coalesce(Message.chat_time, Message.created_at)
        said = (
            select(
                Message.conversation_id.label("conversation_id"),
                func.count().label("messages"),
                func.min(when).label("first_time"),
                func.max(when).label("last_time"),
            )
            .where(Message.project_id == project_id, Message.user_id == user_id)
            .group_by(Message.conversation_id)
            .cte("said")
        )
        made = (
            select(Memory.conversation_id.label("conversation_id"), func.count().label("memories"))
            .where(
                Memory.project_id == project_id,
                Memory.user_id == user_id,
                Memory.status == MemoryStatus.ACTIVATED,
                live(),
            )
            .group_by(Memory.conversation_id)
            .subquery()
        )
        total = select(func.count()).select_from(said).scalar_subquery()
        rows = await self.session.execute(
            select(
                said.c.conversation_id,
                said.c.messages,
                func.coalesce(made.c.memories, 0).label("memories"),
                said.c.first_time,
                said.c.last_time,
                total.label("total"),
            )
            .select_from(said.outerjoin(made, made.c.conversation_id == said.c.conversation_id))
            .order_by(said.c.last_time.desc(), said.c.conversation_id)
            .offset(offset)
            .limit(limit)
        )
        found = rows.mappings().all()
        count = int(found[0]["total"]) if found else await self._count(said)
        return [ConversationCounts(**_counts(row)) for row in found], count

    async def _count(self, rows: FromClause) -> int:
        """How many rows an aggregate has (asked only when a page past its end came back empty)."""
        return int(await self.session.scalar(select(func.count()).select_from(rows)) or 0)
