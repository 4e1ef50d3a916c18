"""get/message: the raw history of one conversation."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.services.limits import check_ids
from memos_server.settings import Settings
from memos_server.storage.models import Message
from memos_server.storage.repositories.messages import MessageRepository


async def recent_messages(
    session: AsyncSession,
    settings: Settings,
    project_id: uuid.UUID,
    user_id: str,
    conversation_id: str,
    limit: int,
) -> list[Message]:
    check_ids(settings.limits, user_id, conversation_id)
    return await MessageRepository(session).recent(project_id, user_id, conversation_id, limit)
