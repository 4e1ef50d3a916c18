"""What a memory query reads (a user's scope, a project's selection) and what it returns
(search hits, counts): the shapes ``MemoryRepository`` takes and gives.

Both shapes hold ``live()``: a memory past its ``expires_at`` is gone for every reader (search's
channels, listings, the console, reconciliation) from that instant, whether or not the sweep has
purged it yet (``docs/retention.md``). The per-user HNSW indexes (``vector_indexes``) need no
change: their predicate (project, user, kind, status) is still implied by a scope's conditions,
and the expiry is one more filter on the rows the index hands back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, bindparam, func, literal_column, or_, true
from sqlalchemy.types import String

from memos_server.filters import Filter
from memos_server.storage.filters import to_sql
from memos_server.storage.models import Memory
from memos_server.storage.vocabulary import MemoryStatus


def live() -> ColumnElement[bool]:
    """Not expired: no ``expires_at``, or one still ahead (``now()``: the transaction's start,
    or the statement's for one run outside a transaction, as search's are: a memory that
    expires between its statements is left out by the last, which reads the rows shown)."""
    return or_(Memory.expires_at.is_(None), Memory.expires_at > func.now())


def vocabulary(word: str) -> ColumnElement[str]:
    """A word of the schema's vocabulary (a kind, a status) written into the SQL, not bound: a
    statement Postgres plans once for all its executions still knows it (and its statistics)."""
    if not (word.isascii() and word.replace("_", "").isalnum()):
        raise ValueError(f"not a vocabulary word: {word!r}")
    return literal_column(f"'{word}'", String)


@dataclass(frozen=True)
class Scope:
    """Whose memories a query reads: always one project, and one user or one agent (an agent
    alone: its memories of every user of the project), maybe narrowed further."""

    project_id: uuid.UUID
    user_id: str | None
    agent_id: str | None = None
    where: Filter | None = None
    # Knowledge bases a search names: memories any user shared into them are in scope too.
    bases: tuple[uuid.UUID, ...] = ()
    # A statement built once and run for every scope of its shape (``of_shape``): how many rows
    # it keeps is read per execution in an InitPlan (``limit_of``), and the kinds and status are
    # written in (``vocabulary``), so that where users hold alike numbers of memories Postgres
    # settles on one plan for all executions instead of planning each again (0.5-1 ms of its CPU
    # a search). Whose rows stay plain binds: where one user holds far more than another, it
    # still plans for the user at hand.
    planned_once: bool = False

    def conditions(self, kind: str | None) -> list[ColumnElement[bool]]:
        """Conditions on ``memories`` for this scope; ``kind`` None: every kind.

        Whose memories (project, user, agent) are named bind parameters (``parameters``), so a
        statement built for one scope can run again for another of the same ``shape``."""
        if self.user_id is None and self.agent_id is None:
            raise ValueError("a scope names a user or an agent")
        # An agent alone: the agent's condition below is the whole of whose.
        whose = (
            Memory.user_id == bindparam("scope_user", self.user_id)
            if self.user_id is not None
            else true()
        )
        if self.bases:
            # ``ix_memories_knowledgebase_ids`` (GIN) answers the ``&&``: a bitmap OR with the
            # user's rows.
            whose = or_(whose, Memory.knowledgebase_ids.overlap(list(self.bases)))
        found = [
            Memory.project_id == bindparam("scope_project", self.project_id),
            whose,
            Memory.status == vocabulary(MemoryStatus.ACTIVATED),
            live(),
        ]
        if kind is not None:
            found.append(Memory.kind == vocabulary(kind))
        if self.agent_id is not None:
            found.append(Memory.agent_id == bindparam("scope_agent", self.agent_id))
        if self.where is not None:
            found.append(to_sql(self.where))
        return found

    def parameters(self) -> dict[str, Any]:
        """The values of the bind parameters ``conditions`` names."""
        named = {"scope_user": self.user_id, "scope_agent": self.agent_id}
        given = {name: value for name, value in named.items() if value is not None}
        return {"scope_project": self.project_id} | given

    @property
    def shape(self) -> tuple[bool, bool] | None:
        """What a statement built on this scope depends on besides ``parameters``: whether it
        names a user, an agent. None when it depends on more (a filter, knowledge bases): such
        a statement is built for the one search."""
        if self.where is not None or self.bases:
            return None
        return self.user_id is not None, self.agent_id is not None

    @staticmethod
    def of_shape(shape: tuple[bool, bool]) -> Scope:
        """A scope of this ``shape``, to build a statement on (its values are replaced by the
        ``parameters`` of the scope it runs for)."""
        user, agent = shape
        return Scope(
            uuid.UUID(int=0), "" if user else None, "" if agent else None, planned_once=True
        )


@dataclass(frozen=True)
class Selection:
    """Which of one project's memories a listing or a deletion takes: each part that is set
    narrows it (a user, an agent, ids, a filter, a kind, a memory or preference type, a
    status). Expired memories are left out unless ``expired`` (a deletion takes them too)."""

    project_id: uuid.UUID
    user_id: str | None = None
    agent_id: str | None = None
    ids: tuple[uuid.UUID, ...] | None = None
    where: Filter | None = None
    kind: str | None = None
    memory_type: str | None = None
    preference_type: str | None = None
    status: str | None = None
    expired: bool = False

    def conditions(self) -> list[ColumnElement[bool]]:
        found = [Memory.project_id == self.project_id]
        if not self.expired:
            found.append(live())
        if self.status is not None:
            found.append(Memory.status == self.status)
        if self.user_id is not None:
            found.append(Memory.user_id == self.user_id)
        if self.agent_id is not None:
            found.append(Memory.agent_id == self.agent_id)
        if self.ids is not None:
            found.append(Memory.id.in_(list(self.ids)))
        if self.kind is not None:
            found.append(Memory.kind == self.kind)
        if self.memory_type is not None:
            found.append(Memory.memory_type == self.memory_type)
        if self.preference_type is not None:
            found.append(Memory.preference_type == self.preference_type)
        if self.where is not None:
            found.append(to_sql(self.where))
        return found


@dataclass(frozen=True)
class HnswScan:
    """Search a user's own HNSW index (built on ``embedding::vector(dimension)``)."""

    dimension: int
    ef_search: int


class Hit(NamedTuple):
    """A memory a search channel proposes: enough to rank it, not the memory itself. A named
    tuple: a search makes a hundred or more, and a frozen dataclass takes twice as long to build
    one."""

    id: uuid.UUID
    time: datetime  # when it happened (memory_time), else when it was stored
    similarity: float = 0.0  # cosine similarity to the query (vector channel)
    words: tuple[str, ...] = ()  # its index tokens (full-text channel)


@dataclass(frozen=True)
class Counts:
    memories: dict[str, int]  # by kind
    feedback: dict[str, int]  # feedback memories among them, by kind
    # By kind, how many of them hold each query word (``MemorySearch.lexical_and_counts``).
    words: dict[str, dict[str, int]] = field(default_factory=dict)
