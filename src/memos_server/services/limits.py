"""Size limits on what a client sends (all of them settings)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from memos_server.errors import (
    BadRequest,
    ConversationIdTooLong,
    MessagesTooLong,
    TooLong,
    UserIdTooLong,
)
from memos_server.services.tool_trajectories import call_parts
from memos_server.settings import LimitSettings

_ID_TOO_LONG: dict[str, type[TooLong]] = {
    "user_id": UserIdTooLong,
    "conversation_id": ConversationIdTooLong,
}


def check_ids(
    limits: LimitSettings,
    user_id: str | None = None,
    conversation_id: str | None = None,
    *,
    agent_id: str | None = None,
    app_id: str | None = None,
    source: str | None = None,
    task_id: str | None = None,
) -> None:
    """The ids a request names, each held to ``max_id_chars``: they are kept in b-tree indexes,
    whose entries hold about 2,700 bytes (a message's ``source`` is held to the same)."""
    named = {
        "user_id": user_id,
        "conversation_id": conversation_id,
        "agent_id": agent_id,
        "app_id": app_id,
        "source": source,
        "task_id": task_id,  # the service's, named back: a not-found answer quotes it
    }
    for name, value in named.items():
        if value is not None and len(value) > limits.max_id_chars:
            error = _ID_TOO_LONG.get(name, TooLong)
            raise error(f"{name} is longer than {limits.max_id_chars} characters")


def check_metadata(limits: LimitSettings, tags: Sequence[str], info: dict[str, Any]) -> None:
    """An add's tags (a GIN index holds each one) and its free ``info`` (copied onto every
    message and memory the add makes)."""
    if len(tags) > limits.max_tags:
        raise TooLong(f"tags has {len(tags)} items; at most {limits.max_tags}")
    for i, tag in enumerate(tags):
        if len(tag) > limits.max_tag_chars:
            raise TooLong(f"tags[{i}] is longer than {limits.max_tag_chars} characters")
    long_key = _long_key(info, limits.max_info_key_chars)
    if long_key is not None:
        raise TooLong(
            f"info has a key longer than {limits.max_info_key_chars} characters "
            f"({long_key[:40]}...)"
        )
    size = len(json.dumps(info, ensure_ascii=False, separators=(",", ":")))
    if size > limits.max_info_chars:
        raise TooLong(f"info is {size:,} characters as JSON; at most {limits.max_info_chars:,}")


def _long_key(info: dict[str, Any], most: int) -> str | None:
    """The first key longer than ``most`` characters, at any depth (the body's depth is bounded
    by the input rules)."""
    stack: list[Any] = [info]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if len(key) > most:
                    return str(key)
                stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
    return None


def check_messages(limits: LimitSettings, texts: Sequence[str]) -> None:
    if len(texts) > limits.max_messages_per_add:
        raise MessagesTooLong(
            f"messages has {len(texts)} items; at most {limits.max_messages_per_add} per add"
        )
    for i, text in enumerate(texts):
        if len(text) > limits.max_message_chars:
            raise MessagesTooLong(
                f"messages[{i}].content is longer than {limits.max_message_chars} characters"
            )


def check_tool_calls(
    limits: LimitSettings, calls: Sequence[tuple[str | None, list[Any] | None]]
) -> None:
    """Each message's ``tool_call_id`` and ``tool_calls`` (``calls``, in message order): each
    call becomes a tool memory, so their number is held per add; a call's arguments are held to
    a message's length, its name and id (and a tool message's ``tool_call_id``) to an id's."""
    total = sum(len(tool_calls or []) for _, tool_calls in calls)
    if total > limits.max_tool_calls_per_add:
        raise MessagesTooLong(
            f"messages hold {total} tool calls; at most {limits.max_tool_calls_per_add} per add"
        )
    for i, (call_id, tool_calls) in enumerate(calls):
        if call_id is not None and len(call_id) > limits.max_id_chars:
            raise TooLong(
                f"messages[{i}].tool_call_id is longer than {limits.max_id_chars} characters"
            )
        for j, entry in enumerate(tool_calls or []):
            if not isinstance(entry, dict):
                continue
            name, arguments, entry_id = call_parts(entry)
            at = f"messages[{i}].tool_calls[{j}]"
            if len(arguments) > limits.max_message_chars:
                raise MessagesTooLong(
                    f"{at} arguments are longer than {limits.max_message_chars} characters"
                )
            for part, value in (("name", name), ("id", entry_id)):
                if value is not None and len(value) > limits.max_id_chars:
                    raise TooLong(f"{at} {part} is longer than {limits.max_id_chars} characters")


def check_speakers(
    limits: LimitSettings,
    user_ids: Sequence[str],
    speakers: Sequence[tuple[str | None, str | None]],
) -> None:
    """A group add: how many users it names (each is stored a copy: the cost grows with them)
    and each message's speaker (role_id, role_name), kept on every copy."""
    if len(user_ids) > limits.max_group_users:
        raise TooLong(
            f"user_id has {len(user_ids)} users; at most {limits.max_group_users} per add"
        )
    for user_id in user_ids:
        check_ids(limits, user_id)
    for i, (role_id, role_name) in enumerate(speakers):
        if role_id is not None and len(role_id) > limits.max_id_chars:
            raise TooLong(f"messages[{i}].role_id is longer than {limits.max_id_chars} characters")
        if role_name is not None and len(role_name) > limits.max_role_name_chars:
            raise TooLong(
                f"messages[{i}].role_name is longer than {limits.max_role_name_chars} characters"
            )


def check_text(limits: LimitSettings, name: str, text: str) -> None:
    """One free text a client sends (a feedback, chat's system prompt, a memory's text or title
    written by hand), sized like a message."""
    if len(text) > limits.max_message_chars:
        raise TooLong(f"{name} is longer than {limits.max_message_chars} characters")


def check_result_limit(limits: LimitSettings, name: str, value: int) -> None:
    if value > limits.max_result_limit:
        raise BadRequest(f"{name} must be at most {limits.max_result_limit}")


def check_query(limits: LimitSettings, query: str) -> None:
    if len(query) > limits.max_query_chars:
        raise TooLong(f"query is longer than {limits.max_query_chars} characters")
