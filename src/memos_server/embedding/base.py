"""The interface every embedding provider implements."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

from memos_server.text.writing_systems import WIDE_CHAR


class TextKind(StrEnum):
    """What a text is to search: asymmetric models (e5) embed the two differently, others don't."""

    QUERY = "query"  # what a search looks for
    PASSAGE = "passage"  # what is stored and searched: memories, messages


class Embedder(Protocol):
    @property
    def name(self) -> str:
        """Identity of the model; vectors of two different names never share a database."""

    @property
    def dimension(self) -> int:
        """Length of every vector it returns."""

    @property
    def max_tokens(self) -> int:
        """Longest input it embeds without truncating."""

    def count_tokens(self, text: str) -> int:
        """How many of ``max_tokens`` the text uses. CPU work: callers run it off the event loop,
        so it must be safe to call from any thread."""

    async def embed(
        self, texts: Sequence[str], kind: TextKind = TextKind.PASSAGE
    ) -> list[list[float]]:
        """Unit-length vectors, one per text, in order. Never blocks the event loop."""

    async def aclose(self) -> None:
        """Release what it holds."""


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate: one token per CJK character, about four characters otherwise."""
    cjk = len(WIDE_CHAR.findall(text))
    return cjk + (len(text) - cjk + 3) // 4
