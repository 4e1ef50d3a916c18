"""The local model on ONNX Runtime: same vectors as sentence-transformers, less time per query."""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from memos_server.embedding.batching import BatchedModel
from memos_server.embedding.bert_onnx import INPUTS
from memos_server.embedding.onnx_export import ModelLayout
from memos_server.settings import EmbeddingSettings


class OnnxEmbedder(BatchedModel):
    def __init__(self, settings: EmbeddingSettings, layout: ModelLayout, onnx_file: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self._settings = settings
        self._layout = layout
        max_tokens = min(settings.max_tokens, layout.max_seq_length)
        self._counter = Tokenizer.from_file(str(layout.tokenizer))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(layout.tokenizer))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        # One thread per run, runs in parallel on the cores (as for e5): a query's forward pass
        # on two threads cost 1.3-1.4x the CPU of one, the threads' handoffs (BENCHMARKS.md).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # Idle model threads sleep instead of spinning: spinning doubled the CPU time of a query
        # (16 vs 7 ms) for no gain in latency, CPU the web server and Postgres need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self._workers = settings.threads or (os.cpu_count() or 1)
        self._pool = (
            ThreadPoolExecutor(self._workers, "embed-onnx-run") if self._workers > 1 else None
        )
        super().__init__(
            settings,
            dimension=int(self._encode(["dimension"]).shape[1]),
            max_tokens=max_tokens,
            encode=self._vectors,
            thread_name="embed-onnx",
        )

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def _vectors(self, texts: list[str]) -> list[list[float]]:
        rows: list[list[float]] = self._encode(texts).tolist()
        return rows

    def _encode(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        encodings = self._tokenizer.encode_batch(texts)
        # Similar lengths share a sub-batch, so little of any batch is padding; a batch is split
        # into at least as many sub-batches as there are workers, which run side by side.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        size = min(self._settings.batch_size, math.ceil(len(order) / self._workers))
        chunks = [order[start : start + size] for start in range(0, len(order), size)]
        inputs = [[encodings[i] for i in chunk] for chunk in chunks]
        pooled = (
            list(self._pool.map(self._forward, inputs))
            if self._pool is not None and len(chunks) > 1
            else [self._forward(chunk) for chunk in inputs]
        )
        out = np.empty((len(texts), pooled[0].shape[1]), dtype=np.float32)
        for chunk, vectors in zip(chunks, pooled, strict=True):
            out[chunk] = vectors
        return out

    def _forward(self, encodings: list[Any]) -> np.ndarray[Any, np.dtype[np.float32]]:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feed = dict(zip(INPUTS, (ids, mask, np.zeros_like(ids)), strict=True))
        hidden: np.ndarray[Any, np.dtype[np.float32]] = self._session.run(None, feed)[0]
        if self._layout.pooling == "cls":
            pooled = hidden[:, 0, :]
        else:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        # Unit length always, as the torch path asks of sentence-transformers.
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: np.ndarray[Any, np.dtype[np.float32]] = (pooled / np.clip(norms, 1e-12, None)).astype(
            np.float32
        )
        return unit

    async def aclose(self) -> None:
        await super().aclose()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
