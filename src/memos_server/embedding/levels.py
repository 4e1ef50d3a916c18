"""Where a model's cosine similarities fall, for the thresholds that compare them.

Each model has a band of its own, and a multilingual model one per language. all-MiniLM-L6-v2
gives two unrelated sentences about 0.1–0.5 and "the user lives in Beijing" / "... in Shanghai"
0.65; multilingual-e5-small gives any two Chinese texts 0.75 and up, and those two facts 0.975,
above MiniLM's duplicate threshold; its English cosines sit lower. So the thresholds that compare
cosines (the default relevance floor of a search; fine mode's "the same memory" and "worth
showing to reconcile") are the model's, measured, not one number. Settings that name a threshold
override these; a model not listed gets today's MiniLM levels and no default floor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from memos_server.prompts import Language


@dataclass(frozen=True)
class CosineLevels:
    # Fine mode: existing memories this similar to a new one are shown to the model to reconcile.
    similar: float
    # Fine mode: a new memory this similar to an existing one is that memory, not kept again.
    duplicate: float
    # By the request's language: a memory sharing no word with it is noise under this cosine
    # (a language not listed: no floor).
    related: dict[Language, float] = field(default_factory=dict)
    # By the request's language: how much lower the model puts a memory in the other language
    # than one in the request's, alike in relatedness (the mean cosine of unrelated pairs of
    # each). Added to such a memory's cosine, so the two compare on one scale.
    other_language: dict[Language, float] = field(default_factory=dict)


MINILM = CosineLevels(similar=0.5, duplicate=0.95)
LEVELS = {
    # BENCHMARKS.md. Chinese: at 0.8375 no request of the development set loses a relevant
    # memory, while requests about subjects never mentioned get half as many. English: no
    # floor, relevant and unrelated overlap (LoCoMo: 5% of questions' best evidence under 0.807,
    # half of the best turns of another user's conversation over 0.788; "Where should the
    # family go on holiday?" / "The user always prefers beaches over mountains." 0.749).
    # Short facts that contradict each other reach 0.95-0.975 ("用户住在北京。" / "用户住在
    # 上海。"), a repeat in other words 0.985-0.992: only the nearest repeats are duplicates,
    # the model decides the rest.
    # Across languages (BENCHMARKS.md, eighth round; bench/corpus.py, 57 Chinese and 63 English
    # requests against 118 Chinese and 122 English messages): a Chinese request's cosine with
    # unrelated Chinese memories averages 0.851, with English ones 0.777, so an English memory
    # that answers it (0.79-0.84) fell below every unrelated Chinese one. English requests:
    # 0.818 against 0.794, too close to correct.
    "local:multilingual-e5-small": CosineLevels(
        related={"zh": 0.8375}, similar=0.85, duplicate=0.99, other_language={"zh": 0.074}
    ),
}


def levels_of(model: str) -> CosineLevels:
    """The levels of an embedder by its ``name``."""
    return LEVELS.get(model, MINILM)
