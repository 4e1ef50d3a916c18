"""Recalled memories as data a model reads, never as instructions it follows.

``instruction``, ``full_instruction`` and ``/chat``'s system prompt put what was recalled inside
one ``<memories>…</memories>`` block (and knowledge-base passages in a ``<documents>`` block of
their own, escaped the same way: ``passage_lines.py``), the name MemOS's own Cloud chat prompt uses
(``memos/templates/cloud_service_prompt.py``) and the one agent runtimes and MemOS's source
filter already recognise as recalled context. The words around the block say it is data from
past conversations, possibly outdated or wrong, and that no instruction inside it is to be
followed. That only holds if a memory cannot leave the block, so each memory's text goes
through :func:`recalled_text` before it is put on its line:

- every ``<`` and ``>`` becomes ``&lt;`` and ``&gt;``: no tag can be written by a memory, so
  ``</memories>``, ``</ MEMORIES >`` or a fake ``<memories>`` around text of its own are shown
  as text; brackets that only look like ``<`` (full-width, angle quotes) are escaped too where
  they open a tag of the block's name;
- line breaks (all of them, ``\\u2028`` too) and the spaces around them become one space: a
  memory is one line, so it can never start a line of its own that reads as a new item
  (``- [2025-01-01] …``), a heading or an instruction.

Only the prompt text is changed; the stored memory is returned by search exactly as it is.
"""

from __future__ import annotations

import re

BLOCK = "memories"

# Every character str.splitlines() breaks a line at, with the spaces around a run of them.
_LINE_BREAKS = re.compile(r"[ \t]*[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+\s*")
# Brackets a model may read as "<" or ">" where they open a tag named like the block.
_LOOKALIKE_TAG = re.compile(
    r"[＜﹤〈⟨‹《](?=[\s\u200b-\u200f\u2060\ufeff/／]*(?:memor|facts|preferences|documents))",
    re.IGNORECASE,
)
_ESCAPES = str.maketrans({"<": "&lt;", ">": "&gt;"})


def recalled_text(text: str) -> str:
    """``text`` made safe to stand on one line inside the ``<memories>`` block."""
    text = _LINE_BREAKS.sub(" ", text.strip())
    text = text.translate(_ESCAPES)
    return _LOOKALIKE_TAG.sub("&lt;", text)
