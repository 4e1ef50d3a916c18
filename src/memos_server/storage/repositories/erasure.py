"""Counting what a reset of a project or of one user deletes (``memos-server reset``; the
deletion itself is ``deletions.forget_user``, user by user).

What goes: the messages, the memories, their history, and the tasks of the adds and feedback
(their jobs and the feedback text go with them, by foreign key). The project and its keys stay.
A user's history rows are found through the user's memories and, for memories deleted earlier
(their rows are gone, the history is not), through the messages they were made from.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.models import Memory, MemoryHistory, Message, Profile, Task
from memos_server.storage.vocabulary import ProfileSubject


@dataclass(frozen=True)
class Erasable:
    users: int
    messages: int
    memories: int
    history: int  # rows of memory history
    tasks: int  # adds and feedback, with their jobs and feedback text


class ErasureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count(self, project_id: uuid.UUID, user_id: str | None) -> Erasable:
        """What ``erase`` would delete now."""
        said = select(Message.user_id).where(*_of(Message, project_id, user_id))
        kept = select(Memory.user_id).where(*_of(Memory, project_id, user_id))
        users = said.union(kept).subquery()
        counts = [
            await self.session.scalar(select(func.count()).select_from(users)),
            await self._count(Message, _of(Message, project_id, user_id)),
            await self._count(Memory, _of(Memory, project_id, user_id)),
            await self._count(MemoryHistory, self._history(project_id, user_id)),
            await self._count(Task, _of(Task, project_id, user_id)),
        ]
        return Erasable(*(int(n or 0) for n in counts))

    async def users(self, project_id: uuid.UUID) -> list[str]:
        """Every user with messages, memories, tasks or a profile in the project."""
        named = [
            select(model.user_id).where(model.project_id == project_id)
            for model in (Message, Memory, Task)
        ]
        named.append(
            select(Profile.subject_id.label("user_id")).where(
                Profile.project_id == project_id, Profile.subject_kind == ProfileSubject.USER
            )
        )
        result = await self.session.scalars(named[0].union(*named[1:]))
        return sorted(result.all())

    async def _count(self, model: Any, conditions: list[ColumnElement[bool]]) -> int | None:
        return await self.session.scalar(select(func.count()).select_from(model).where(*conditions))

    @staticmethod
    def _history(project_id: uuid.UUID, user_id: str | None) -> list[ColumnElement[bool]]:
        conditions = [MemoryHistory.project_id == project_id]
        if user_id is not None:
            memories = select(Memory.id).where(*_of(Memory, project_id, user_id))
            messages = select(func.array_agg(Message.id)).where(*_of(Message, project_id, user_id))
            conditions.append(
                or_(
                    MemoryHistory.memory_id.in_(memories),
                    MemoryHistory.source_message_ids.overlap(messages.scalar_subquery()),
                )
            )
        return conditions


def _of(model: Any, project_id: uuid.UUID, user_id: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [model.project_id == project_id]
    if user_id is not None:
        conditions.append(model.user_id == user_id)
    return conditions
