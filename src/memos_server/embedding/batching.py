"""Micro-batching: concurrent embed calls share one forward pass of the model.

One thread runs the model. While it works, calls queue up; when it is free it takes everything
waiting (up to ``max_texts``) as one batch. A lone call therefore waits for nothing, and under
load many queries cost about as much as a few: the model's cost per text falls steeply with the
batch size on a CPU. The queue is thread-safe, so callers may live on any event loop.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from memos_server.embedding.base import TextKind
from memos_server.metrics import observe_embedding
from memos_server.settings import EmbeddingSettings

Vectors = list[list[float]]


@dataclass
class _Call:
    texts: list[str]
    future: Future[Vectors]


class Batcher:
    def __init__(self, encode: Callable[[list[str]], Vectors], max_texts: int, name: str) -> None:
        self._encode = encode
        self._max_texts = max(1, max_texts)
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return []
        if self._closed:
            raise RuntimeError("the embedder is closed")
        future: Future[Vectors] = Future()
        self._queue.put(_Call(list(texts), future))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._closed = True
        self._queue.put(None)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            calls, size, closing = [first], len(first.texts), False
            while size < self._max_texts:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    closing = True
                    break
                calls.append(more)
                size += len(more.texts)
            self._serve([call for call in calls if call.future.set_running_or_notify_cancel()])
            if closing:
                return

    def _serve(self, calls: list[_Call]) -> None:
        if not calls:
            return
        texts = [text for call in calls for text in call.texts]
        started = time.perf_counter()
        try:
            vectors = self._encode(texts)
        except Exception as exc:
            for call in calls:
                call.future.set_exception(exc)
            return
        observe_embedding(len(texts), time.perf_counter() - started)
        start = 0
        for call in calls:
            call.future.set_result(vectors[start : start + len(call.texts)])
            start += len(call.texts)


class BatchedModel:
    """What the local runtimes share: the model's identity and sizes, and a Batcher running the
    subclass's ``encode``. Subclasses add ``count_tokens``."""

    def __init__(
        self,
        settings: EmbeddingSettings,
        *,
        dimension: int,
        max_tokens: int,
        encode: Callable[[list[str]], Vectors],
        thread_name: str,
    ) -> None:
        self._settings = settings
        self._dimension = dimension
        self._max_tokens = max_tokens
        self._batcher = Batcher(encode, settings.max_batch_texts, thread_name)

    @property
    def name(self) -> str:
        return f"local:{self._settings.model}"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    async def embed(self, texts: Sequence[str], kind: TextKind = TextKind.PASSAGE) -> Vectors:
        return await self._batcher.embed(texts)

    async def aclose(self) -> None:
        self._batcher.close()
