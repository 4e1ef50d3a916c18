"""get/message: the raw history of one conversation; what clients call a message."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.services.limits import check_ids
from memos_server.settings import Settings
from memos_server.storage.models import Memory, Message
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


async def message_numbers(
    session: AsyncSession,
    project_id: uuid.UUID,
    memories: Iterable[Memory],
    known: Mapping[int, int] | None = None,
) -> dict[int, int]:
    """The ``message_id`` clients know for each message these memories were made from: its
    number in the project, keyed by the id the service keeps (global, so never shown).
    ``known``: numbers already read (search reads them with its memories); only the rest are
    looked up."""
    known = known or {}
    ids = {i for memory in memories for i in memory.source_message_ids}
    missing = {i for i in ids if i not in known}
    found = {i: known[i] for i in ids if i in known}
    if missing:
        found.update(await MessageRepository(session).numbers(project_id, missing))
    return found
