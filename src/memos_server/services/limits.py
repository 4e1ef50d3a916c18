"""Size limits on what a client sends (all of them settings)."""

from __future__ import annotations

from collections.abc import Sequence

from memos_server.errors import BadRequest, ConversationIdTooLong, TooLong, UserIdTooLong
from memos_server.settings import LimitSettings


def check_ids(limits: LimitSettings, user_id: str, conversation_id: str | None = None) -> None:
    if len(user_id) > limits.max_id_chars:
        raise UserIdTooLong(f"user_id is longer than {limits.max_id_chars} characters")
    if conversation_id is not None and len(conversation_id) > limits.max_id_chars:
        raise ConversationIdTooLong(
            f"conversation_id is longer than {limits.max_id_chars} characters"
        )


def check_messages(limits: LimitSettings, texts: Sequence[str]) -> None:
    if len(texts) > limits.max_messages_per_add:
        raise TooLong(
            f"messages has {len(texts)} items; at most {limits.max_messages_per_add} per add"
        )
    for i, text in enumerate(texts):
        if len(text) > limits.max_message_chars:
            raise TooLong(
                f"messages[{i}].content is longer than {limits.max_message_chars} characters"
            )


def check_text(limits: LimitSettings, name: str, text: str) -> None:
    """One free text a client sends (a feedback, a chat query's answer), sized like a message."""
    if len(text) > limits.max_message_chars:
        raise TooLong(f"{name} is longer than {limits.max_message_chars} characters")


def check_result_limit(limits: LimitSettings, name: str, value: int) -> None:
    if value > limits.max_result_limit:
        raise BadRequest(f"{name} must be at most {limits.max_result_limit}")


def check_query(limits: LimitSettings, query: str) -> None:
    if len(query) > limits.max_query_chars:
        raise TooLong(f"query is longer than {limits.max_query_chars} characters")


def check_memory_text(limits: LimitSettings, name: str, text: str) -> None:
    """A memory's text or title, as a client writes it: no longer than a message."""
    if len(text) > limits.max_message_chars:
        raise TooLong(f"{name} is longer than {limits.max_message_chars} characters")
