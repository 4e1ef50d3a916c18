"""Whether a text says anything: white space and invisible format characters (zero-width space,
joiners, direction marks, the byte-order mark: Unicode category Cf) say nothing."""

from __future__ import annotations

import unicodedata


def is_blank(text: str) -> bool:
    """True when ``text`` holds no character a reader would see."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text)
