"""A local cross-encoder (sentence-transformers ``CrossEncoder``, the ``torch`` extra) from a path;
never downloads."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memos_server.errors import ConfigurationError
from memos_server.extras import require_torch


class CrossEncoderReranker:
    def __init__(self, model: Any, name: str = "cross-encoder") -> None:
        self._model = model
        self.name = name

    @classmethod
    def load(cls, path: str) -> CrossEncoderReranker:
        """Blocking (seconds): call it off the event loop."""
        if not Path(path).expanduser().is_dir():
            raise ConfigurationError(
                f"reranker model {path!r} is not a local folder (nothing is downloaded)"
            )
        require_torch(f"the local cross-encoder reranker {path!r}")
        from sentence_transformers import CrossEncoder

        folder = Path(path).expanduser()
        return cls(CrossEncoder(str(folder), device="cpu"), folder.name)

    async def scores(self, query: str, documents: Sequence[str]) -> list[float]:
        pairs = [(query, document) for document in documents]
        predicted = await asyncio.to_thread(self._model.predict, pairs, show_progress_bar=False)
        return [float(score) for score in predicted]

    async def aclose(self) -> None:
        pass
