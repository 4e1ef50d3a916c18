"""A document's blocks cut into passages: what one search hit of a knowledge base returns.

A passage never spans two headings (a heading change closes it), holds whole paragraphs while
they fit in ``target`` characters, and cuts a longer paragraph at sentence ends, Chinese ones
included (``windows.sentences``); only a single sentence longer than ``target`` is cut inside.
Characters, not model tokens, measure a passage: e5 reads 512 tokens, and ``target`` (500 by
default) stays within that for Chinese (about one token a character) and English alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from memos_server.services.knowledge.documents import Block, joins_tight
from memos_server.text.windows import sentences


@dataclass(frozen=True)
class Passage:
    position: int
    heading: str
    text: str
    page: int | None

    @property
    def indexed_text(self) -> str:
        """What is embedded: the heading says what the passage is about."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text


def split_passages(blocks: Iterable[Block], target: int) -> list[Passage]:
    out: list[Passage] = []
    parts: list[str] = []
    size = 0
    heading: str | None = None
    page: int | None = None

    def close() -> None:
        nonlocal size
        if parts:
            out.append(Passage(len(out), heading or "", _joined(parts), page))
            parts.clear()
            size = 0

    for block in blocks:
        if block.heading != heading:
            close()
            heading = block.heading
        for piece in _pieces(block.text, target):
            if parts and size + len(piece) + 1 > target:
                close()
            if not parts:
                page = block.page
            parts.append(piece)
            size += len(piece) + 1
        # A paragraph ends: the next one starts on a new line of the same passage.
        if parts:
            parts.append("\n")
    close()
    return out


def _joined(parts: list[str]) -> str:
    text = ""
    for part in parts:
        if part == "\n":
            text = text.rstrip() + "\n"
        elif text and not text.endswith("\n") and not text.endswith(" "):
            text += part if joins_tight(text[-1]) else " " + part
        else:
            text += part
    return text.strip()


def _pieces(paragraph: str, target: int) -> Iterator[str]:
    """The paragraph whole if it fits, else its sentences, else fixed cuts of a long one."""
    if len(paragraph) <= target:
        yield paragraph
        return
    for sentence in sentences(paragraph):
        sentence = sentence.strip()
        for start in range(0, len(sentence), target):
            piece = sentence[start : start + target].strip()
            if piece:
                yield piece
