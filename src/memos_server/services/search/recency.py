"""Newer beats older among memories about the same subject, without an LLM.

Fine mode archives a fact the user contradicted; fast mode keeps every window of raw turns, so
"我住在上海浦东" and, months later, "我上个月搬到杭州了" both stay searchable and the older one
often matches a query better. A recency decay would fix that by burying every old fact, also the
ones nothing ever replaced. Instead, among the candidates one search fused, a memory moves down
only below a *newer sibling*: a candidate about the same subject, said at least
``recency_min_gap_s`` later, ranked below it by no more than ``recency_lift`` of relativity. A
memory with no newer sibling keeps its place among the rest.

Two candidates are about the same subject when the cosine similarity of their embeddings stands
out among the candidates' pairwise similarities: at least ``recency_similarity_z`` standard
deviations above their mean. A relative threshold, because absolute levels differ by model and
language (fast windows of one Chinese user: median pair 0.74 with all-MiniLM-L6-v2, 0.89 with
multilingual-e5-small), while the candidates of one query are all somewhat alike. The gap keeps
the windows of one conversation, which continue a subject rather than replace it, from being
siblings. Identical texts are the same memory told twice: no siblings either.

Off by default: on the Chinese development set it puts the newest statement above the stale one
for 16 of 19 updated facts (10 without), but whole-window embeddings also pair memories that
merely share a subject, and the older of those, when it is what a query wants, loses places
(R@10 of single facts and paraphrases falls; BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from memos_server.times import EARLIEST, utc

# Below this many candidates the spread of their similarities says little.
MIN_CANDIDATES = 4
_MICROSECOND = timedelta(microseconds=1)


Vector = Sequence[float] | npt.NDArray[np.float32]


@dataclass(frozen=True)
class Candidate:
    relativity: float
    time: datetime  # when it happened (memory_time), else when it was stored
    text: str
    vector: Vector | None  # its embedding; None: never a sibling


@lru_cache(maxsize=64)
def _upper(size: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The indices of a ``size`` x ``size`` matrix's pairs (above its diagonal)."""
    return np.triu_indices(size, k=1)


def _micros(time: datetime) -> int:
    """``time`` in whole microseconds since 1970 (naive: taken as UTC), exactly."""
    return (utc(time) - EARLIEST) // _MICROSECOND


def newer_first(
    candidates: Sequence[Candidate], lift: float, similarity_z: float, min_gap: timedelta
) -> list[tuple[int, float]]:
    """The candidates (given best first) as (index, relativity), older siblings moved down.

    A candidate with newer siblings ranked below it by at most ``lift`` of relativity, said at
    least ``min_gap`` later, moves directly below the best-ranked of them (and on with it, if
    that one moves too) and takes its relativity; in a group the newest comes first. The
    candidates it passes move up one place each; every other candidate keeps its place among the
    rest, and its relativity.
    """
    scores = [c.relativity for c in candidates]
    unchanged = list(enumerate(scores))
    usable = [i for i, c in enumerate(candidates) if c.vector is not None and len(c.vector)]
    if lift <= 0 or len(usable) < MIN_CANDIDATES:
        return unchanged
    # The pairs (a, b) of usable candidates, b the newer one ranked below a, that time and rank
    # allow to be siblings: checked in plain Python first (cheap), so the similarities are
    # computed only when some pair could use them.
    micros = [_micros(candidates[i].time) for i in usable]
    gap = min_gap // _MICROSECOND
    allowed = [
        (a, b)
        for a, i in enumerate(usable)
        for b in range(a + 1, len(usable))
        if micros[b] - micros[a] >= gap and scores[i] - scores[usable[b]] <= lift
    ]
    if not allowed:
        return unchanged
    raw = np.asarray([candidates[i].vector for i in usable], dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", raw, raw))
    unit = raw / np.where(norms > 0, norms, 1.0)[:, None]
    similarity = unit @ unit.T
    pairs = similarity[_upper(len(usable))]
    spread = float(pairs.std())
    if spread <= 1e-6:
        return unchanged
    bar = float(pairs.mean()) + similarity_z * spread
    texts: dict[int, str] = {}

    def text(a: int) -> str:
        if a not in texts:
            texts[a] = " ".join(candidates[usable[a]].text.split())
        return texts[a]

    below: dict[int, int] = {}  # an older candidate → the nearest newer sibling it goes below
    for a, b in allowed:
        # Row by row, and in each row the newer candidates in rank order: the first whose text
        # differs is the nearest.
        i = usable[a]
        if i not in below and similarity[a, b] >= bar and text(a) != text(b):
            below[i] = usable[b]

    def anchor(i: int) -> int:
        while i in below:  # each step goes down the ranking: no cycles
            i = below[i]
        return i

    # A group (an unmoved anchor and the older siblings moved below it) sits at the anchor's
    # place, newest first: each moved candidate is older than the one it went below.
    order = sorted(
        range(len(candidates)),
        key=lambda i: (anchor(i), -candidates[i].time.timestamp(), i),
    )
    return [(i, min(scores[i], scores[anchor(i)])) for i in order]
