"""Scoring of search hits: BM25 over the full-text channel's words, and the fusion of both
channels into one 0..1 relativity (weighted sum, or reciprocal rank by setting). Shared by the
memories' search and the knowledge-base passages'."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from memos_server.settings import SearchSettings
from memos_server.storage.repositories.memory_scopes import Hit
from memos_server.text.time_words import Period

BM25_K1 = 1.2
BM25_B = 0.75


@dataclass
class _Candidate:
    hit: Hit
    cosine: float = 0.0
    coverage: float = 0.0  # IDF-weighted share of the query's words the memory holds
    ranks: list[int] = field(default_factory=list)


def bm25(
    tokens: Sequence[str], hits: Sequence[Hit], documents: int
) -> list[tuple[Hit, float, float]]:
    """(hit, BM25 score, coverage) for each full-text hit, best score first.

    ``documents``: the user's memories of this kind in scope. Length normalisation is against the
    hits' mean length (one scan less per query than the scope's).
    """
    documents = max(documents, len(hits))
    asked = set(tokens)
    # Per hit: its distinct words (its length) and how often it holds each query word; only the
    # query's words are counted (a hit holds a few of them among dozens of its own).
    counts = [(hit, len(set(hit.words)), _held(hit.words, asked)) for hit in hits]
    lengths = [length for _, length, _ in counts]
    mean_length = (sum(lengths) / len(lengths) if lengths else 1.0) or 1.0
    idf = {
        token: math.log(1 + (documents - df + 0.5) / (df + 0.5))
        for token in tokens
        for df in [sum(1 for _, _, held in counts if token in held)]
    }
    total = sum(idf.values()) or 1.0
    scored = []
    for hit, distinct, words in counts:
        length = distinct or 1  # distinct tokens, as for the mean
        norm = BM25_K1 * (1 - BM25_B + BM25_B * length / mean_length)
        score = sum(
            idf[t] * words[t] * (BM25_K1 + 1) / (words[t] + norm) for t in tokens if t in words
        )
        coverage = sum(idf[t] for t in tokens if t in words) / total
        scored.append((hit, score, coverage))
    scored.sort(key=lambda row: row[1], reverse=True)
    return scored


def _held(words: Sequence[str], asked: set[str]) -> dict[str, int]:
    """How often ``words`` holds each of the ``asked`` words it holds."""
    held = asked.intersection(words)
    return {word: words.count(word) for word in held} if held else {}


def telling_words(
    tokens: Sequence[str], held: Mapping[str, int], documents: int, share: float
) -> list[str]:
    """The query's words that tell memories apart: a word ``held`` by (in) more than ``share`` of
    the ``documents`` searched is left out, unless every word is.

    BM25 takes a word's document frequency from the hits alone (at most ``candidates`` of them),
    so a word in every memory (a speaker's name opening each line of a conversation) still
    weighed as much as one in a fifth of them, and gave every memory a share of the query.
    """
    kept = [token for token in tokens if held.get(token, 0) <= share * documents]
    return kept or list(tokens)


def fuse(
    vector: Sequence[Hit],
    text: Sequence[tuple[Hit, float, float]],
    settings: SearchSettings,
    limit: int,
    period: Period | None = None,
    *,
    text_asked: bool = True,
    cosines: Mapping[uuid.UUID, float] | None = None,
) -> list[tuple[uuid.UUID, float]]:
    """The best ``limit`` memory ids of both channels, with their relativity, best first.

    ``text_asked``: the full-text channel looked for the query's words. When it did, a memory it
    did not find has coverage 0 and the vector share keeps its weight, also when no memory held
    any of the words: relativity stays on one scale across queries, so a floor means the same for
    all of them. Only when the channel did not run (no words to look for, or the vector channel
    alone by setting) is relativity the cosine.

    ``cosines``: the similarity of full-text hits the vector channel did not propose
    (``MemoryRepository.similarities``). Without it such a hit counts cosine 0, which at weight 0.8
    puts a memory holding every word of the query below one that only resembles it; with it each
    candidate is scored on both channels (LoCoMo R@10 +1.2, docs/search.md).
    """
    pool: dict[uuid.UUID, _Candidate] = {}
    for rank, hit in enumerate(vector, start=1):
        entry = pool.setdefault(hit.id, _Candidate(hit))
        entry.cosine = min(1.0, max(0.0, hit.similarity))
        entry.ranks.append(rank)
    for rank, (hit, _, coverage) in enumerate(text, start=1):
        entry = pool.setdefault(hit.id, _Candidate(hit))
        if not entry.ranks and cosines and hit.id in cosines:
            entry.cosine = min(1.0, max(0.0, cosines[hit.id]))
        entry.coverage = coverage
        entry.ranks.append(rank)
    weight = vector_weight(settings, bool(vector), text_asked)

    def boost(entry: _Candidate) -> float:
        return settings.time_boost if period is not None and period.holds(entry.hit.time) else 0.0

    def relativity(entry: _Candidate) -> float:
        score = weight * entry.cosine + (1 - weight) * entry.coverage
        return min(1.0, score + boost(entry))

    def rrf(entry: _Candidate) -> float:
        fused = sum(1.0 / (settings.rrf_k + rank) for rank in entry.ranks)
        return fused * (1 + boost(entry))

    order = rrf if settings.fusion == "rrf" else relativity
    ranked = sorted(pool.values(), key=order, reverse=True)[:limit]
    return [(entry.hit.id, round(relativity(entry), 6)) for entry in ranked]


def vector_weight(settings: SearchSettings, vector: bool, text_asked: bool) -> float:
    """The vector share of relativity: the setting's when both channels ran."""
    if not vector:
        return 0.0
    return settings.vector_weight if text_asked else 1.0
