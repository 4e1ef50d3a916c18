"""The default relevance floor: what a search drops when its request names no ``relativity``.

Relativity is ``w · cosine + (1 − w) · coverage`` (``search.fuse``). The floor is a cosine per
model and language (``embedding.levels``: the level a memory sharing no word with the request
must reach); words it shares lower the cosine it needs, by the text share. In relativity it is
``w · cosine``, with the ``w`` the request was scored with (1 when it had no words to look for,
0 when only the full-text channel ran: no floor).
"""

from __future__ import annotations

from memos_server.embedding.levels import levels_of
from memos_server.prompts import Language
from memos_server.services.search.ordering import Scored
from memos_server.settings import SearchSettings
from memos_server.text.language import detect_language


def default_floor(
    settings: SearchSettings, model: str, language: Language, vector_weight: float
) -> float:
    """The ``relativity`` of a request in ``language`` that names none, scored with
    ``vector_weight``."""
    if settings.relativity_floor is not None:
        return settings.relativity_floor
    related = levels_of(model).related.get(language)
    return round(vector_weight * related, 6) if related is not None else 0.0


def across_languages(
    found: list[Scored], model: str, language: Language, vector_weight: float
) -> list[Scored]:
    """``found`` on one scale whatever each memory's language: a memory not in the request's
    ``language`` is lifted by the model's ``other_language`` gap (in relativity, ``w`` times
    it), then all are ordered again. Nothing changes for a model or language without a gap."""
    gap = levels_of(model).other_language.get(language, 0.0) * vector_weight
    if gap <= 0:
        return found
    lifted = [
        Scored(s.memory, min(1.0, round(s.relativity + gap, 6)))
        if detect_language([s.memory.memory_value]) != language
        else s
        for s in found
    ]
    return sorted(lifted, key=lambda s: s.relativity, reverse=True)
