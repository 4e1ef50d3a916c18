"""Group chat in fine mode: whose each extracted memory is.

A group add (``user_id`` a list) stores the conversation once per user named (``ingest``), so
the task's messages are copies, one per user, in the order they were sent. The model reads one
copy with each line naming its speaker and says which speaker each memory belongs to
(``speaker``, by name); the memory goes to that user alone. A memory of nobody in particular
(the group's arrangement, ``speaker`` null) or of a speaker who is not one of the add's users
(the assistant, a name the model made up) goes to every user of the add: each keeps the group's
discussion, as the Cloud documents ("各成员记忆中都保留这份讨论").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memos_server.storage.models import Message


@dataclass(frozen=True)
class Group:
    """The users an add was stored for, each with their copy of its messages."""

    copies: dict[str, list[Message]]
    owner: str  # the task's user: whose copy the model reads, when it still exists

    @property
    def users(self) -> list[str]:
        return list(self.copies)

    @property
    def conversation(self) -> list[Message]:
        """The copy the model reads: the owner's, or (they were forgotten) any other's."""
        if self.owner in self.copies:
            return self.copies[self.owner]
        return next(iter(self.copies.values()), [])

    @property
    def is_group(self) -> bool:
        """More than one user, or speakers named: the group prompts."""
        return len(self.copies) > 1 or any(m.role_id or m.role_name for m in self.conversation)

    def targets(self, speaker: str | None) -> list[str]:
        """Whom a memory the model gave to ``speaker`` (a name or id) goes to."""
        if not self.is_group:
            return self.users
        named = self._names()
        user = named.get(speaker.strip()) if speaker else None
        return [user] if user is not None else self.users

    def _names(self) -> dict[str, str]:
        """Each user speaker's name and id, to the user: only user turns whose role_id is one of
        the add's users speak for a user."""
        names: dict[str, str] = {}
        for message in self.conversation:
            if message.role != "user" or message.role_id not in self.copies:
                continue
            names[message.role_id] = message.role_id
            if message.role_name:
                names.setdefault(message.role_name.strip(), message.role_id)
        return names


def group_of(messages: Sequence[Message], owner: str) -> Group:
    """The task's messages split into each user's copy (the order kept)."""
    copies: dict[str, list[Message]] = {}
    for message in messages:
        copies.setdefault(message.user_id, []).append(message)
    return Group(copies, owner)
