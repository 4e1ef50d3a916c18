"""Raw conversation messages, stored before anything else happens to them."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.models import Message


class MessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_task(self, task_id: uuid.UUID) -> list[Message]:
        """The messages one add stored, in the order they were sent."""
        result = await self.session.execute(
            select(Message).where(Message.task_id == task_id).order_by(Message.id)
        )
        return list(result.scalars())

    async def recent(
        self,
        project_id: uuid.UUID,
        user_id: str,
        conversation_id: str,
        limit: int,
        source: str | None = None,
    ) -> list[Message]:
        """The newest ``limit`` messages of a conversation (from ``source`` only, if given),
        oldest first."""
        when = func.coalesce(Message.chat_time, Message.created_at)
        newest = (
            select(Message)
            .where(
                Message.project_id == project_id,
                Message.user_id == user_id,
                Message.conversation_id == conversation_id,
                *([Message.source == source] if source is not None else []),
            )
            .order_by(when.desc(), Message.id.desc())
            .limit(limit)
        )
        rows = list((await self.session.execute(newest)).scalars())
        rows.reverse()
        return rows

    async def recent_conversations(
        self, project_id: uuid.UUID, user_id: str, limit: int, source: str | None = None
    ) -> list[str]:
        """The user's ``limit`` conversations with the newest messages (from ``source`` only,
        if given), newest first."""
        when = func.max(func.coalesce(Message.chat_time, Message.created_at))
        newest = (
            select(Message.conversation_id)
            .where(
                Message.project_id == project_id,
                Message.user_id == user_id,
                *([Message.source == source] if source is not None else []),
            )
            .group_by(Message.conversation_id)
            .order_by(when.desc(), Message.conversation_id)
            .limit(limit)
        )
        return list((await self.session.execute(newest)).scalars())

    async def conversation_page(
        self, project_id: uuid.UUID, user_id: str, conversation_id: str, offset: int, limit: int
    ) -> tuple[list[Message], int]:
        """A page of a conversation's messages, oldest first, and how many it has in all."""
        where = (
            Message.project_id == project_id,
            Message.user_id == user_id,
            Message.conversation_id == conversation_id,
        )
        total = await self.session.scalar(select(func.count()).where(*where))
        if not total or offset >= total:
            return [], int(total or 0)
        when = func.coalesce(Message.chat_time, Message.created_at)
        rows = await self.session.execute(
            select(Message).where(*where).order_by(when, Message.id).offset(offset).limit(limit)
        )
        return list(rows.scalars()), int(total)

    async def by_ids(self, project_id: uuid.UUID, ids: Sequence[int]) -> list[Message]:
        """The project's messages with these ids, in id order (others' ids name nothing)."""
        if not ids:
            return []
        rows = await self.session.execute(
            select(Message)
            .where(Message.project_id == project_id, Message.id.in_(list(ids)))
            .order_by(Message.id)
        )
        return list(rows.scalars())

    async def numbers(self, project_id: uuid.UUID, ids: Collection[int]) -> dict[int, int]:
        """The numbers (``seq``) of the project's messages with these ids, by id."""
        if not ids:
            return {}
        rows = await self.session.execute(
            select(Message.id, Message.seq).where(
                Message.project_id == project_id, Message.id.in_(list(ids))
            )
        )
        return {id_: seq for id_, seq in rows}
