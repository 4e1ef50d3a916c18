"""A stored memory's wire fields, shared by every response that shows one (search, get)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memos_server.api.schemas.common import epoch_ms, wall_clock
from memos_server.storage.memory_rows import MemoryOrRow
from memos_server.storage.models import Memory
from memos_server.storage.vocabulary import PreferenceType


def sources(memory: MemoryOrRow, numbers: Mapping[int, int]) -> list[dict[str, Any]]:
    """The messages the memory was made from, by their ``message_id`` (``numbers``: see
    ``services.conversations.message_numbers``)."""
    return [
        {"type": "chat", "message_id": numbers[i]}
        for i in memory.source_message_ids
        if i in numbers
    ]


def _kept(m: MemoryOrRow) -> dict[str, Any]:
    """The fields every kind's item carries: where it was said, its state, its tags, its times."""
    return {
        "conversation_id": m.conversation_id,
        "status": m.status,
        "tags": m.tags,
        "create_time": epoch_ms(m.create_time),
        "update_time": epoch_ms(m.update_time),
    }


def memory_fields(m: MemoryOrRow, numbers: Mapping[int, int]) -> dict[str, Any]:
    """The fields of a fact memory item (``MemoryItem``)."""
    return {
        "id": str(m.id),
        "memory_key": m.memory_key,
        "memory_value": m.memory_value,
        "memory_type": m.memory_type,
        "memory_time": wall_clock(m.memory_time),
        "confidence": m.confidence,
        **_kept(m),
        "sources": sources(m, numbers),
    }


def preference_fields(m: MemoryOrRow) -> dict[str, Any]:
    """The fields of a preference memory item (``PreferenceItem``)."""
    return {
        "id": str(m.id),
        "preference_type": m.preference_type or PreferenceType.EXPLICIT,
        "preference": m.memory_value,
        "reasoning": m.reasoning or "",
        **_kept(m),
    }


def owner_fields(m: Memory) -> dict[str, Any]:
    """Whose memory it is, its free metadata and its expiry (listing and reading only)."""
    return {
        "user_id": m.user_id,
        "agent_id": m.agent_id,
        "app_id": m.app_id,
        "info": m.info,
        "expires_at": epoch_ms(m.expires_at),
    }


def _words(m: MemoryOrRow, name: str) -> list[str]:
    value = m.details.get(name) if isinstance(m.details, dict) else None
    return [str(v) for v in value] if isinstance(value, list) else []


def event_fields(m: MemoryOrRow, numbers: Mapping[int, int]) -> dict[str, Any]:
    """The fields of an event memory item (``EventItem``)."""
    return {
        "id": str(m.id),
        "event_key": m.memory_key,
        "event_value": m.memory_value,
        "event_type": m.memory_type,
        "event_time": _words(m, "event_time"),
        "event_location": _words(m, "event_location"),
        "event_roles": _words(m, "event_roles"),
        "memory_time": wall_clock(m.memory_time),
        "confidence": m.confidence,
        **_kept(m),
        "sources": sources(m, numbers),
    }


def tool_fields(m: MemoryOrRow, numbers: Mapping[int, int]) -> dict[str, Any]:
    """The fields of a tool memory item (``ToolMemoryItem``)."""
    name = str(m.details.get("tool_name") or "")
    call_id = m.details.get("tool_call_id")
    return {
        "id": str(m.id),
        "tool_type": m.memory_type,
        "tool_value": m.memory_value,
        "tool_name": name,
        "tool_call_id": str(call_id) if call_id is not None else None,
        "tool_used_status": [{"used_tool": name}] if name else [],
        "experience": str(m.details.get("experience") or ""),
        **_kept(m),
        "sources": sources(m, numbers),
    }


def skill_fields(m: MemoryOrRow) -> dict[str, Any]:
    """The fields of a skill item (``SkillItem``)."""
    return {
        "id": str(m.id),
        "skill_value": {
            "name": str(m.details.get("name") or m.memory_key),
            "description": str(m.details.get("description") or ""),
            "content": m.memory_value,
        },
        "skill_url": None,
        **_kept(m),
    }
