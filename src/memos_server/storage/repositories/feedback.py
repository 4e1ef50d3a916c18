"""User feedback, stored as sent before anything is done with it."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.models import Feedback


class FeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, feedback: Feedback) -> Feedback:
        self.session.add(feedback)
        await self.session.flush()
        return feedback

    async def for_task(self, task_id: uuid.UUID) -> Feedback | None:
        result = await self.session.execute(select(Feedback).where(Feedback.task_id == task_id))
        return result.scalar_one_or_none()
