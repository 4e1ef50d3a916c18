"""Micro-batching: concurrent embed calls share forward passes of the model, fairly.

One thread runs the model. While it works, calls queue up; when it is free it makes the next batch
from every call waiting, one text of each in turn (round-robin), until the batch holds
``max_texts`` texts or about ``max_tokens`` tokens. A lone call therefore waits for nothing; under
load many queries cost about as much as a few (the model's cost per text falls steeply with the
batch size on a CPU); and a call with many long texts (a 32,000-character message is 126 windows,
seconds of model time) is served a batch at a time, so a search's one query waits for at most the
batch in progress, not for the whole bulk call. The queue is thread-safe, so callers may live on
any event loop.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from memos_server.embedding.base import TextKind, estimate_tokens
from memos_server.metrics import observe_embedding
from memos_server.settings import EmbeddingSettings

Vectors = list[list[float]]


@dataclass(eq=False)
class _Call:
    texts: list[str]
    future: Future[Vectors]
    taken: int = 0  # texts handed to a batch so far
    vectors: list[list[float] | None] = field(default_factory=list)
    served: int = 0

    @property
    def waiting(self) -> bool:
        return self.taken < len(self.texts)


class Batcher:
    def __init__(
        self,
        encode: Callable[[list[str]], Vectors],
        max_texts: int,
        name: str,
        *,
        max_tokens: int = 0,
        text_tokens: int = 0,
    ) -> None:
        """``max_tokens``: a batch's token budget (0: none); ``text_tokens``: the most tokens the
        model reads of one text (longer ones are truncated; 0: no limit)."""
        self._encode = encode
        self._max_texts = max(1, max_texts)
        self._max_tokens = max_tokens
        self._text_tokens = text_tokens
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return []
        if self._closed:
            raise RuntimeError("the embedder is closed")
        # The same text twice (a repeated turn, a part of a repetitive message) is embedded once.
        distinct = list(dict.fromkeys(texts))
        future: Future[Vectors] = Future()
        self._queue.put(_Call(distinct, future, vectors=[None] * len(distinct)))
        vectors = await asyncio.wrap_future(future)
        if len(distinct) == len(texts):
            return vectors
        by_text = dict(zip(distinct, vectors, strict=True))
        return [by_text[text] for text in texts]

    def close(self) -> None:
        self._closed = True
        self._queue.put(None)

    def _cost(self, text: str) -> int:
        tokens = estimate_tokens(text) + 2  # and the model's two special tokens
        return min(tokens, self._text_tokens + 2) if self._text_tokens else tokens

    def _run(self) -> None:
        pending: deque[_Call] = deque()  # calls with texts not yet in a batch, in turn order
        closing = False
        while not closing:
            try:
                # Block only when there is nothing to do; else take what arrived meanwhile.
                item = self._queue.get(block=not pending)
                while True:
                    if item is None:
                        closing = True
                        break
                    if item.future.set_running_or_notify_cancel():
                        pending.append(item)
                    item = self._queue.get_nowait()
            except queue.Empty:
                pass
            if pending:
                self._serve(self._next_batch(pending))
        for call in pending:
            if not call.future.done():
                call.future.set_exception(RuntimeError("the embedder is closed"))

    def _next_batch(self, pending: deque[_Call]) -> list[tuple[_Call, int]]:
        """One text of each waiting call in turn, within the batch's bounds; at least one text."""
        batch: list[tuple[_Call, int]] = []
        tokens = 0
        while pending and len(batch) < self._max_texts:
            call = pending[0]
            if call.future.done():  # failed with an earlier batch
                pending.popleft()
                continue
            cost = self._cost(call.texts[call.taken])
            if batch and self._max_tokens and tokens + cost > self._max_tokens:
                break
            pending.popleft()
            batch.append((call, call.taken))
            tokens += cost
            call.taken += 1
            if call.waiting:
                pending.append(call)  # its next text comes after every other call's
        return batch

    def _serve(self, batch: list[tuple[_Call, int]]) -> None:
        texts = [call.texts[index] for call, index in batch]
        started = time.perf_counter()
        try:
            vectors = self._encode(texts)
        except Exception as exc:
            # The batch's calls fail whole; their texts still waiting are dropped with them.
            for call in {call for call, _ in batch}:
                if not call.future.done():
                    call.future.set_exception(exc)
            return
        observe_embedding(len(texts), time.perf_counter() - started)
        for (call, index), vector in zip(batch, vectors, strict=True):
            if call.future.done():
                continue
            call.vectors[index] = vector
            call.served += 1
            if call.served == len(call.texts):
                call.future.set_result([v for v in call.vectors if v is not None])


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
        self._batcher = Batcher(
            encode,
            settings.max_batch_texts,
            thread_name,
            max_tokens=settings.max_batch_tokens,
            text_tokens=max_tokens,
        )

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
