"""The Cloud's memory views, and which stored kind each one is.

A view is a name a client uses for one kind of memory: ``allow_memory_view`` on add/message says
which an add may produce, ``include_memory_view`` on search/memory and get/memory which to
return. Each maps to one ``MemoryKind`` except ``profile``, which is no memory row: profiles are
a feature of their own (``services/profiles``; the routes add them to the answer).

- add: no ``allow_memory_view`` → facts, preferences and tool trajectories (events only when
  asked for, as the Cloud documents). Fact windows (fast mode) are stored only when
  ``detail_factual`` is allowed.
- search: no ``include_memory_view`` → facts, plus preferences / tool memories / skills by the
  older ``include_*`` flags, each with its own limit; with it, the flags are ignored and
  ``memory_limit_number`` is the total across the named views, ranked together.
- an unknown name is refused (40000) with the names there are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from memos_server.errors import BadRequest
from memos_server.storage.vocabulary import MemoryKind


class MemoryView(StrEnum):
    DETAIL_FACTUAL = "detail_factual"
    PREFERENCE = "preference"
    EVENT = "event"
    PROFILE = "profile"
    SKILL = "skill"
    TOOL_MEMORY = "tool_memory"


KIND_OF_VIEW: dict[MemoryView, MemoryKind] = {
    MemoryView.DETAIL_FACTUAL: MemoryKind.FACT,
    MemoryView.PREFERENCE: MemoryKind.PREFERENCE,
    MemoryView.EVENT: MemoryKind.EVENT,
    MemoryView.TOOL_MEMORY: MemoryKind.TOOL,
    MemoryView.SKILL: MemoryKind.SKILL,
}

# What an add produces when it names no views (the Cloud: events are asked for by name).
DEFAULT_ADD_VIEWS = frozenset(
    {MemoryView.DETAIL_FACTUAL, MemoryView.PREFERENCE, MemoryView.TOOL_MEMORY, MemoryView.SKILL}
)

# The ``memory_type`` each new kind's rows carry (the Cloud's ``event_type``, ``tool_type``),
# which delete/memory's ``memory_type`` also takes.
EVENT_TYPE = "EventMemory"
TOOL_TRAJECTORY_TYPE = "ToolTrajectoryMemory"
SKILL_TYPE = "SkillMemory"
KIND_OF_TYPE: dict[str, MemoryKind] = {
    EVENT_TYPE: MemoryKind.EVENT,
    "ToolMemory": MemoryKind.TOOL,  # every tool memory
    TOOL_TRAJECTORY_TYPE: MemoryKind.TOOL,
    SKILL_TYPE: MemoryKind.SKILL,
}

NAMES = ", ".join(view.value for view in MemoryView)


def parse_views(field: str, names: Sequence[str] | None) -> frozenset[MemoryView] | None:
    """The views a request names (None when it names none: the defaults apply); an unknown
    name is a 40000 naming the field and the views there are."""
    if names is None:
        return None
    views: set[MemoryView] = set()
    for index, name in enumerate(names):
        try:
            views.add(MemoryView(name))
        except ValueError:
            shown = name if len(name) <= 50 else name[:50] + "…"
            raise BadRequest(
                f"{field}[{index}] {shown!r} is not a memory view; use {NAMES}"
            ) from None
    return frozenset(views)


def kinds_of(views: Iterable[MemoryView]) -> list[MemoryKind]:
    """The stored kinds of these views, in the order of ``MemoryKind`` (profile has none)."""
    wanted = {KIND_OF_VIEW[v] for v in views if v in KIND_OF_VIEW}
    return [kind for kind in MemoryKind if kind in wanted]


def add_views(names: Sequence[str] | None) -> frozenset[MemoryView]:
    """What an add may produce: its ``allow_memory_view``, else the defaults."""
    views = parse_views("allow_memory_view", names)
    return DEFAULT_ADD_VIEWS if views is None else views


def stored_views(views: Iterable[MemoryView] | None) -> list[str] | None:
    """An add's views as its task keeps them for the fine job (None: the defaults)."""
    return None if views is None else sorted(v.value for v in views)


def task_views(stored: Sequence[str] | None) -> frozenset[MemoryView]:
    """The views a task was given (``stored_views``), the defaults when none were."""
    if stored is None:
        return DEFAULT_ADD_VIEWS
    known = {view.value for view in MemoryView}
    return frozenset(MemoryView(name) for name in stored if name in known)
