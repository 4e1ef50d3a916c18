"""The interface every reranker implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Reranker(Protocol):
    @property
    def name(self) -> str:
        """The model that scores, as the rerank endpoint names it."""

    async def scores(self, query: str, documents: Sequence[str]) -> list[float]:
        """One relevance score per document, in order; higher is more relevant."""

    async def aclose(self) -> None:
        """Release what it holds."""
