"""Memories made without the API: stored as fine mode or a bulk import would store them, or
built (never stored) as search hands them to the code that renders them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from memos_server.services.apikeys import hash_key
from memos_server.services.memory_writer import MemoryText, new_memory
from memos_server.settings import DatabaseSettings
from memos_server.storage.database import Database
from memos_server.storage.models import Memory
from memos_server.storage.repositories.api_keys import ApiKeyRepository
from memos_server.storage.repositories.memories import MemoryRepository
from memos_server.storage.vocabulary import MemoryKind, MemoryMode
from memos_server.text.tokens import index_tokens
from tests.support.database import execute, project_of
from tests.support.service import ServiceThread

# The project of memories that are built but never stored: no row refers to it.
UNSTORED_PROJECT = uuid.UUID(int=0)


def store_preference(
    service: ServiceThread,
    database_url: str,
    api_key: str,
    user_id: str,
    preference: str,
    *,
    preference_type: str = "explicit_preference",
    reasoning: str = "",
) -> str:
    """Store a preference memory as fine mode would, embedded by the service's own model."""

    async def store() -> str:
        [vector] = await service.runtime.require_embedder().embed([preference])
        database = Database(database_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                key = await ApiKeyRepository(session).find(hash_key(api_key))
                assert key is not None
                memory = new_memory(
                    text=MemoryText(preference[:20], preference),
                    project_id=key.project_id,
                    user_id=user_id,
                    conversation_id="prefs",
                    kind=MemoryKind.PREFERENCE,
                    mode=MemoryMode.FINE,
                    memory_type="UserMemory",
                    preference_type=preference_type,
                    reasoning=reasoning,
                    embedding=vector,
                )
                await MemoryRepository(session).add_all([memory], [])
                await session.commit()
                return str(memory.id)
        finally:
            await database.dispose()

    return asyncio.run(store())


def store_memories(
    database_url: str,
    api_key: str,
    user_id: str,
    count: int,
    *,
    text: str = "bulk memory",
    kind: str = "fact",
    memory_type: str = "LongTermMemory",
    preference_type: str | None = None,
    agent_id: str | None = None,
    status: str = "activated",
    same_time: bool = False,
) -> int:
    """Store ``count`` memories in one INSERT ... SELECT generate_series, sharing one vector.

    Memory ``n`` is called ``"<text> <n>"`` and, unless ``same_time``, was made ``n`` seconds
    ago, so number 1 is the newest. Their words are indexed, so full-text search finds them.
    """
    return execute(
        database_url,
        """
        INSERT INTO memories (id, project_id, user_id, conversation_id, agent_id, kind, mode,
            memory_key, memory_value, memory_type, preference_type, reasoning, tags, confidence,
            status, embedding, source_message_ids, info, search_text, create_time, update_time)
        SELECT gen_random_uuid(), CAST(:project AS uuid), :user_id, 'bulk', :agent_id, :kind,
            'fast', :text || ' ' || g, :text || ' ' || g, :memory_type, :preference_type, '',
            '{}', 1.0, :status, v.vector, '{}', '{}', :tokens || ' ' || g,
            now() - CAST(:step AS int) * g * interval '1 second',
            now() - CAST(:step AS int) * g * interval '1 second'
        FROM generate_series(1, CAST(:count AS int)) AS g,
            (SELECT array_fill(0.05::real, ARRAY[value::int])::vector AS vector
             FROM service_meta WHERE key = 'embedding_dimension') AS v
        """,
        project=project_of(database_url, api_key),
        user_id=user_id,
        agent_id=agent_id,
        kind=kind,
        text=text,
        memory_type=memory_type,
        preference_type=preference_type,
        status=status,
        tokens=index_tokens(text),
        step=0 if same_time else 1,
        count=count,
    )


def recalled_memory(
    value: str,
    *,
    create_time: datetime,
    memory_id: uuid.UUID | None = None,
    preference_type: str | None = None,
    reasoning: str | None = None,
    corrects: Sequence[uuid.UUID] = (),
) -> Memory:
    """A memory as search hands it on, made by the one memory writer but never stored.

    The database would give it its create time; here the caller does.
    """
    memory = new_memory(
        text=MemoryText(value[:20], value),
        project_id=UNSTORED_PROJECT,
        user_id="recalled",
        conversation_id=None,
        kind=MemoryKind.FACT if preference_type is None else MemoryKind.PREFERENCE,
        mode=MemoryMode.FINE,
        memory_type="LongTermMemory" if preference_type is None else "UserMemory",
        embedding=[],
        preference_type=preference_type,
        reasoning=reasoning,
        corrects=corrects,
    )
    memory.create_time = create_time
    if memory_id is not None:
        memory.id = memory_id
    return memory


def message_values(
    *, project_id: uuid.UUID, user_id: str, content: str, conversation_id: str = "c1"
) -> dict[str, Any]:
    """A user's message as column values, for ``storage.repositories.added_rows``."""
    return {
        "project_id": project_id,
        "user_id": user_id,
        "conversation_id": conversation_id,
        "role": "user",
        "content": content,
        "tags": [],
        "info": {},
    }
