"""An export's record lines, written by Postgres (``services/portability/export.py``).

Each record is built by ``json_build_object`` in the query that reads it, so Python only passes
text along: building the same JSON in Python cost a millisecond a memory (reading the row,
printing its times and ids, its vector's 384 floats), Postgres does it in a fraction of that, in
its own process. A memory's history rows and its sources (as message numbers, in their order)
come in the same row. The fields are exactly the format's (``services/portability/format.py``):
an import refuses any other.

Each kind is read by one query through a server-side cursor, ``PAGE`` rows at a fetch, in the
order the table holds them (no ``ORDER BY``): at 100,000 memories, keyset pages in id order read
a random heap page per memory once the table outgrew the cache (80 ms a page of 1,000, 62 s
for the export); one scan reads each page once. The snapshot (repeatable read) keeps the rows
still while the cursor walks them, and nothing holds more than a fetch.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# The message numbers of an array of the service's message ids, in the array's order (ids of
# messages no longer there left out). One primary-key lookup per id: as a join, the planner
# scanned all the project's messages for every memory. ``OFFSET 0`` keeps the inner query whole:
# flattened, the lookup ran twice per id (once for the filter, once for the value).
_NUMBERS = (
    "ARRAY(SELECT q.seq FROM (SELECT u.n, (SELECT x.seq FROM messages x "
    "WHERE x.id = u.id AND x.project_id = :p) AS seq "
    "FROM unnest({ids}) WITH ORDINALITY AS u(id, n) OFFSET 0) q "
    "WHERE q.seq IS NOT NULL ORDER BY q.n)"
)

_HISTORY_ROW = (
    "json_build_object('event', h.event, 'old_value', h.old_value, 'new_value', h.new_value, "
    f"'source_messages', {_NUMBERS.format(ids='h.source_message_ids')}, "
    "'task_id', h.task_id, 'created_at', h.created_at)"
)

_PROFILE_HISTORY_ROW = (
    "json_build_object('path', h.path, 'actor', h.actor, 'old_value', h.old_value, "
    "'new_value', h.new_value, "
    f"'source_messages', {_NUMBERS.format(ids='h.source_message_ids')}, "
    "'task_id', h.task_id, 'created_at', h.created_at)"
)

_FIELDS: dict[str, str] = {
    "task": (
        "'type', 'task', 'id', id, 'kind', kind, 'user_id', user_id, "
        "'conversation_id', conversation_id, 'status', status, 'error', error, "
        "'llm_calls', llm_calls, 'prompt_tokens', prompt_tokens, "
        "'completion_tokens', completion_tokens, 'created_at', created_at, "
        "'updated_at', updated_at"
    ),
    "message": (
        "'type', 'message', 'number', seq, 'user_id', user_id, "
        "'conversation_id', conversation_id, 'agent_id', agent_id, 'app_id', app_id, "
        "'task_id', task_id, 'role', role, 'role_id', role_id, 'role_name', role_name, "
        "'content', content, 'content_parts', content_parts, "
        "'tool_call_id', tool_call_id, 'tool_calls', tool_calls, 'chat_time', chat_time, "
        "'tags', tags, 'info', info, 'source', source, 'created_at', created_at, "
        "'updated_at', updated_at"
    ),
    "memory": (
        "'type', 'memory', 'id', m.id, 'user_id', m.user_id, "  # noqa: S608 (fixed text)
        "'conversation_id', m.conversation_id, 'agent_id', m.agent_id, 'app_id', m.app_id, "
        "'task_id', m.task_id, 'kind', m.kind, 'mode', m.mode, 'memory_key', m.memory_key, "
        "'memory_value', m.memory_value, 'memory_type', m.memory_type, "
        "'preference_type', m.preference_type, 'reasoning', m.reasoning, 'tags', m.tags, "
        "'memory_time', m.memory_time, 'confidence', m.confidence, 'status', m.status, "
        f"'source_messages', {_NUMBERS.format(ids='m.source_message_ids')}, "
        "'corrects', m.corrects, 'info', m.info, 'details', m.details, "
        "'prompt_version', m.prompt_version, "
        "'create_time', m.create_time, 'update_time', m.update_time, "
        "'expires_at', m.expires_at, 'knowledgebase_ids', m.knowledgebase_ids, "
        "'search_text', m.search_text, "
        f"'history', (SELECT coalesce(json_agg({_HISTORY_ROW} ORDER BY h.id), '[]'::json) "
        "FROM memory_history h WHERE h.memory_id = m.id AND h.project_id = :p)"
    ),
    "feedback": (
        "'type', 'feedback', 'task_id', task_id, 'user_id', user_id, "
        "'conversation_id', conversation_id, 'agent_id', agent_id, 'app_id', app_id, "
        "'content', content, 'feedback_time', feedback_time, 'created_at', created_at"
    ),
    "knowledge_base": (
        "'type', 'knowledge_base', 'id', id, 'name', name, 'description', description, "
        "'created_at', created_at"
    ),
    "knowledge_file": (
        "'type', 'knowledge_file', 'id', id, 'knowledgebase_id', knowledgebase_id, "
        "'task_id', task_id, 'name', name, 'file_type', type, 'size_bytes', size_bytes, "
        "'status', status, 'error', error, 'passages', passages, 'created_at', created_at, "
        "'updated_at', updated_at"
    ),
    "profile_template": (
        "'type', 'profile_template', 'id', id, 'name', name, 'fields', fields, "
        "'created_at', created_at, 'updated_at', updated_at"
    ),
    "profile": (
        "'type', 'profile', 'id', r.id, 'template_id', r.template_id, "  # noqa: S608 (fixed)
        "'subject_kind', r.subject_kind, 'subject_id', r.subject_id, 'fields', r.fields, "
        "'created_at', r.created_at, 'updated_at', r.updated_at, "
        f"'history', (SELECT coalesce(json_agg({_PROFILE_HISTORY_ROW} ORDER BY h.id), "
        "'[]'::json) FROM profile_history h WHERE h.profile_id = r.id AND h.project_id = :p)"
    ),
    "passage": (
        "'type', 'passage', 'id', id, 'knowledgebase_id', knowledgebase_id, "
        "'file_id', file_id, 'position', position, 'page', page, 'heading', heading, "
        "'text', text, 'created_at', created_at, 'search_text', search_text"
    ),
}

# A one user's profiles: those of that user (not of an agent).
_USERS_PROFILE = "subject_kind = 'user' AND subject_id = :u"
# table (with its alias), the condition that keeps one user's records (None: a record of the
# project, not in a one-user export), whether it has a vector.
_TABLES: dict[str, tuple[str, str | None, bool]] = {
    "task": ("tasks", "user_id = :u", False),
    "message": ("messages", "user_id = :u", False),
    "memory": ("memories m", "m.user_id = :u", True),
    "feedback": ("feedback", "user_id = :u", False),
    "knowledge_base": ("knowledge_bases", None, False),
    "knowledge_file": ("knowledge_files", None, False),
    "passage": ("knowledge_passages", None, True),
    # The templates the user's profiles are bound to come along with them.
    "profile_template": (
        "profile_templates",
        "id IN (SELECT template_id FROM profiles WHERE project_id = :p AND "  # noqa: S608
        f"{_USERS_PROFILE})",
        False,
    ),
    "profile": ("profiles r", f"r.{_USERS_PROFILE}", False),
}


def _where(kind: str, *, user: bool) -> str:
    table, of_user, _ = _TABLES[kind]
    alias = table.split()[1] + "." if " " in table else ""
    where = [f"{alias}project_id = :p"]
    if user:
        assert of_user is not None, f"{kind} records are the project's, not a user's"
        where.append(of_user)
    if kind == "memory":
        # Expired is gone for every reader, the sweep's delete pending or not (docs/retention.md).
        where.append("(m.expires_at IS NULL OR m.expires_at > now())")
    return f"FROM {table} WHERE {' AND '.join(where)}"


def _statement(kind: str, *, user: bool, vector: bool) -> str:
    has_vector = _TABLES[kind][2]
    line = f"json_build_object({_FIELDS[kind]})::text"
    if vector and has_vector:
        # The vector last, as Postgres prints it (already JSON): what an import reads fastest.
        column = "m.embedding" if kind == "memory" else "embedding"
        line = f"""left({line}, -1) || ',"embedding":' || {column}::text || '}}'"""
    return f"SELECT {line} AS line {_where(kind, user=user)}"


def of_users(kind: str) -> bool:
    """Whether a one-user export holds records of this kind."""
    return kind != "history" and _TABLES[kind][1] is not None


_DELETED_HISTORY = (
    "SELECT json_build_object('type', 'history', 'memory_id', h.memory_id, "  # noqa: S608
    f"'history', json_agg({_HISTORY_ROW} ORDER BY h.id))::text AS line "
    "FROM memory_history h WHERE h.project_id = :p "
    "AND NOT EXISTS (SELECT 1 FROM memories m WHERE m.id = h.memory_id) "
    "GROUP BY h.memory_id"
)


class ExportLines:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count(self, kind: str, project_id: uuid.UUID, user_id: str | None) -> int:
        """How many records of a kind (not ``history``) the export holds."""
        values: dict[str, Any] = {"p": project_id}
        if user_id is not None:
            values["u"] = user_id
        statement = f"SELECT count(*) {_where(kind, user=user_id is not None)}"
        return int(await self.session.scalar(text(statement), values) or 0)

    async def pages(
        self,
        kind: str,
        project_id: uuid.UUID,
        user_id: str | None,
        size: int,
        vector: bool = False,
    ) -> AsyncIterator[list[str]]:
        """Every record of a kind (``history``: of deleted memories, one per memory), as lines,
        ``size`` at a time."""
        if kind == "history":
            statement = _DELETED_HISTORY
        else:
            statement = _statement(kind, user=user_id is not None, vector=vector)
        values: dict[str, Any] = {"p": project_id}
        if user_id is not None:
            values["u"] = user_id
        result = await self.session.stream(
            text(statement).execution_options(yield_per=size), values
        )
        async for part in result.scalars().partitions(size):
            yield list(part)
