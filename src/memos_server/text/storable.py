"""Text Postgres can store: no NUL (``text`` refuses it) and no lone surrogate (UTF-8 cannot
encode one). Clients' text is refused with a 400 when it holds either (``api.schemas``); text
that comes from elsewhere (a document, a model's answer) is cleaned here instead: NUL dropped,
a lone surrogate replaced by U+FFFD."""

from __future__ import annotations

import re

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` without NUL, and with lone surrogates as U+FFFD."""
    if not UNSTORABLE.search(text):
        return text
    return UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)
