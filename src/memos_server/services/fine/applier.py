"""The one applier of decisions: ADD, UPDATE, ARCHIVE or NONE on a user's memories.

Every path that changes memories because a model said so goes through here: fine extraction
reconciling a new memory with the nearest old ones (``refine``), a user's feedback applied
(``feedback``), and next the memory kinds still to come. So each rule holds everywhere:

- the target of an UPDATE or ARCHIVE is read again in the applying transaction; one archived or
  deleted since the model saw it is not touched, and the change falls back to adding the
  decision's new memory, if it brings one (what the user said is kept, not the stale target);
- an UPDATE rewrites the target's key and value (and so its search text, ``memory_writer``),
  gives it the new vector, adds the messages it now also comes from, merges the new memory's
  kind fields into the target's (an event's times, places and people: ``merged_details``), and
  keeps the sooner of its expiry and the new memory's (``docs/retention.md``);
- an ARCHIVE takes the target out of search and adds the memory that replaces it, if any;
- every change is a history row with the same task and sources;
- nothing is written until ``finish``, in the caller's one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.services.memory_writer import MemoryText, archive, history_row, revise
from memos_server.services.retention import sooner
from memos_server.storage.memory_rows import MemoryOrRow
from memos_server.storage.models import Memory, MemoryHistory
from memos_server.storage.repositories.memories import MemoryRepository
from memos_server.storage.vocabulary import HistoryEvent

Action = Literal["ADD", "UPDATE", "ARCHIVE", "NONE"]


@dataclass(frozen=True)
class Decision:
    """What a model decided about one piece of new knowledge and the memories it was shown.

    ``target`` is the shown memory an UPDATE or ARCHIVE acts on (for NONE, the one it repeats,
    if known). ``memory_value`` / ``memory_key`` are an UPDATE's rewritten text, or an ADD's
    text when the decision itself brings it (feedback); ``tags`` go on what it adds."""

    action: Action
    target: MemoryOrRow | None = None
    memory_value: str | None = None
    memory_key: str | None = None
    tags: list[str] = field(default_factory=list)


def merged_details(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A memory's kind fields after an UPDATE: lists joined (old first, no repeats), anything
    else the new memory's."""
    merged = dict(old)
    for name, value in new.items():
        before = merged.get(name)
        if isinstance(value, list) and isinstance(before, list):
            merged[name] = [*before, *(v for v in value if v not in before)]
        else:
            merged[name] = value
    return merged


class Applier:
    """Applies decisions in one session for one task; ``finish`` writes what was added and the
    history rows (changes to loaded memories are written with the session's commit)."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        project_id: uuid.UUID,
        task_id: uuid.UUID,
        source_ids: Sequence[int] = (),
    ) -> None:
        self._repository = MemoryRepository(session)
        self._project_id = project_id
        self._task_id = task_id
        self._source_ids = list(source_ids)
        self._history: list[MemoryHistory] = []
        self._added: list[Memory] = []

    def _record(
        self, memory_id: uuid.UUID, event: HistoryEvent, old: str | None, new: str | None
    ) -> None:
        self._history.append(
            history_row(
                memory_id=memory_id,
                project_id=self._project_id,
                event=event,
                old_value=old,
                new_value=new,
                source_message_ids=self._source_ids,
                task_id=self._task_id,
            )
        )

    async def apply(
        self,
        decision: Decision,
        *,
        new: Memory | None = None,
        vector: list[float] | None = None,
        reason: str | None = None,
    ) -> None:
        """Carry out ``decision``. ``new``: the memory it adds (an ADD's, an ARCHIVE's
        replacement, an UPDATE's should its target be gone); ``vector``: an UPDATE's embedding of
        its rewritten text; ``reason``: what an ARCHIVE's history row names as the new value
        (the replacement's text unless given)."""
        action = decision.action
        if action == "NONE":
            return
        target: Memory | None = None
        if action in ("UPDATE", "ARCHIVE"):
            assert decision.target is not None, f"{action} needs the memory it acts on"
            target = await self._repository.get_active(self._project_id, decision.target.id)
            if target is None:  # archived or deleted since it was shown to the model
                action = "ADD"
        if action == "UPDATE" and target is not None:
            value = decision.memory_value or target.memory_value
            self._record(target.id, HistoryEvent.UPDATE, target.memory_value, value)
            text = MemoryText(decision.memory_key or target.memory_key, value)
            details = merged_details(target.details, new.details) if new and new.details else None
            revise(
                target,
                text=text,
                embedding=vector,
                more_sources=self._source_ids,
                details=details,
            )
            if new is not None:
                # The merged text holds what the new one said: it lives no longer than either.
                target.expires_at = sooner(target.expires_at, new.expires_at)
            return
        if action == "ARCHIVE" and target is not None:
            because = reason if reason is not None else new.memory_value if new else None
            self._record(target.id, HistoryEvent.ARCHIVE, target.memory_value, because)
            archive(target)
        if new is not None:
            self._added.append(new)
            self._record(new.id, HistoryEvent.ADD, None, new.memory_value)

    async def retire(self, memories: Sequence[Memory]) -> None:
        """Archive memories the applied changes supersede as a whole (the fast windows of
        refined messages, an applied feedback's own memory)."""
        await self._repository.archive([m.id for m in memories])
        for memory in memories:
            self._record(memory.id, HistoryEvent.ARCHIVE, memory.memory_value, None)

    async def finish(self) -> list[Memory]:
        """Write the added memories and every history row; the added memories are returned."""
        await self._repository.add_all(self._added, self._history)
        return self._added
