"""Which language a conversation or query is in, for choosing prompts and notes."""

from __future__ import annotations

import re
from collections.abc import Iterable

from memos_server.prompts import Language
from memos_server.text.writing_systems import HAN_CHAR

_LATIN = re.compile(r"[A-Za-z]")

# Chinese text mixes in Latin words ("下个月去 Tokyo 出差"); a third of the letters being Han
# characters already makes it Chinese to its reader.
CJK_SHARE = 0.3


def detect_language(texts: Iterable[str]) -> Language:
    cjk = latin = 0
    for text in texts:
        cjk += len(HAN_CHAR.findall(text))
        latin += len(_LATIN.findall(text))
    if cjk == 0:
        return "en"
    # Latin letters come several to a word, Han characters one to a word: compare words.
    return "zh" if cjk / (cjk + latin / 4) >= CJK_SHARE else "en"
