"""get/message: the raw history of a conversation, or of the user's most recent ones; what
clients call a message."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.errors import BadRequest
from memos_server.services.limits import check_ids
from memos_server.settings import Settings
from memos_server.storage.memory_rows import MemoryOrRow
from memos_server.storage.models import Message
from memos_server.storage.repositories.messages import MessageRepository


async def recent_messages(
    session: AsyncSession,
    settings: Settings,
    project_id: uuid.UUID,
    user_id: str,
    conversation_id: str | None,
    limit: int,
    *,
    conversation_limit: int,
    source: str | None = None,
) -> list[Message]:
    """get/message: the newest ``limit`` messages of the conversation, oldest first; without
    one, of each of the user's ``conversation_limit`` most recent conversations (the Cloud's
    ``conversation_limit_number``), the least recent conversation first. ``source``: only the
    messages added with it."""
    limits = settings.limits
    check_ids(limits, user_id, conversation_id, source=source)
    if conversation_limit > limits.max_conversations_per_get:
        raise BadRequest(
            f"conversation_limit_number must be at most {limits.max_conversations_per_get} "
            "(MEMOS_LIMITS__MAX_CONVERSATIONS_PER_GET)"
        )
    messages = MessageRepository(session)
    if conversation_id is not None:
        return await messages.recent(project_id, user_id, conversation_id, limit, source)
    found: list[Message] = []
    conversations = await messages.recent_conversations(
        project_id, user_id, conversation_limit, source
    )
    for conversation in reversed(conversations):
        found += await messages.recent(project_id, user_id, conversation, limit, source)
    return found


async def message_numbers(
    session: AsyncSession,
    project_id: uuid.UUID,
    memories: Iterable[MemoryOrRow],
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


async def source_messages(
    session: AsyncSession, project_id: uuid.UUID, memories: Iterable[MemoryOrRow], per_memory: int
) -> dict[uuid.UUID, list[Message]]:
    """The messages each memory was made from (its ``sources``), oldest first, at most
    ``per_memory`` of them (the last: nearest to what the memory says), by memory id; what
    search's ``context_format`` ``sources`` and ``mixed`` show. A message deleted since is left
    out; a memory with none left (made by feedback, or its conversation deleted) maps to []."""
    chosen = {m.id: list(m.source_message_ids)[-per_memory:] for m in memories}
    wanted = sorted({i for ids in chosen.values() for i in ids})
    found = {m.id: m for m in await MessageRepository(session).by_ids(project_id, wanted)}
    return {
        memory_id: sorted((found[i] for i in ids if i in found), key=lambda m: m.seq)
        for memory_id, ids in chosen.items()
    }
