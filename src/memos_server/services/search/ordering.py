"""How a search orders what it found: the ``Scored`` memories of its kinds ranked together
(``best_of_all``), corrections placed above what they correct (``place_corrections``), and newer
memories above older near-copies (``newer_siblings_first``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from memos_server.services.search.recency import Candidate, Vector, newer_first
from memos_server.settings import SearchSettings
from memos_server.storage.memory_rows import MemoryOrRow


@dataclass(frozen=True)
class Scored:
    memory: MemoryOrRow
    relativity: float  # 0..1


def best_of_all(found: dict[str, list[Scored]], total: int) -> dict[str, list[Scored]]:
    """Every kind's results ranked together (relativity, then newer first), the best ``total``
    kept, each in its own list in its own order."""
    everything = sorted(
        (s for results in found.values() for s in results),
        key=lambda s: (s.relativity, s.memory.create_time),
        reverse=True,
    )
    kept = {s.memory.id for s in everything[:total]}
    return {kind: [s for s in results if s.memory.id in kept] for kind, results in found.items()}


def place_corrections(
    found: Sequence[Scored], corrections: Sequence[MemoryOrRow], limit: int
) -> list[Scored]:
    """Each feedback memory directly above the best-ranked memory it corrects, at least as
    relevant as that memory; newer corrections first; then cut to ``limit`` again.

    A correction already above everything it corrects stays where it is.
    """
    position = {s.memory.id: i for i, s in enumerate(found)}
    own = {s.memory.id: s.relativity for s in found}
    above: dict[int, list[MemoryOrRow]] = {}
    for correction in sorted(corrections, key=lambda m: m.create_time, reverse=True):
        targets = [position[i] for i in correction.corrects if i in position]
        if not targets:
            continue
        target = min(targets)
        if position.get(correction.id, len(found)) < target:
            continue
        above.setdefault(target, []).append(correction)
    moved = {c.id for placed in above.values() for c in placed}
    ordered: list[Scored] = []
    for i, scored in enumerate(found):
        for correction in above.get(i, []):
            relativity = max(own.get(correction.id, 0.0), scored.relativity)
            ordered.append(Scored(correction, relativity))
        if scored.memory.id not in moved:
            ordered.append(scored)
    return ordered[:limit]


def newer_siblings_first(
    found: Sequence[Scored], vectors: Mapping[uuid.UUID, Vector], settings: SearchSettings
) -> list[Scored]:
    """``recency.newer_first`` over fused results: an older memory goes below a newer one about
    the same subject that nearly matches it (``vectors``: their embeddings, by id)."""
    candidates = [
        Candidate(
            relativity=s.relativity,
            time=s.memory.memory_time or s.memory.create_time,
            text=s.memory.memory_value,
            vector=vectors.get(s.memory.id),
        )
        for s in found
    ]
    order = newer_first(
        candidates,
        settings.recency_lift,
        settings.recency_similarity_z,
        timedelta(seconds=settings.recency_min_gap_s),
    )
    return [Scored(found[i].memory, round(score, 6)) for i, score in order]


def one_copy_each(found: Sequence[Scored]) -> list[Scored]:
    """The first of memories with the same kind and text. A group add stores its windows once
    for each user it names: searched by its agent alone (every user's memories), each window
    would come back once a member."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for scored in found:
        copy = (scored.memory.kind, scored.memory.memory_value)
        if copy not in seen:
            seen.add(copy)
            kept.append(scored)
    return kept
