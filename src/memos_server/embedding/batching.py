"""Micro-batching: concurrent embed calls share forward passes of the model, fairly.

One thread runs the model. While it works, calls queue up; when it is free it makes the next batch
from every call waiting, one text of each in turn (round-robin), until the batch holds
``max_texts`` texts or about ``max_tokens`` tokens. A lone call therefore waits for nothing; under
load many queries cost about as much as a few (the model's cost per text falls steeply with the
batch size on a CPU); and a call with many long texts (a 32,000-character message is 126 windows,
seconds of model time) is served a batch at a time, so a search's one query waits for at most the
batch in progress, not for the whole bulk call. Callers may live on any event loop.

A model that runs each text alone (e5) is given ``lanes``: that many threads, each taking the
next batch (one text) as soon as it is free, so a query arriving while another runs starts at
once on a free core instead of waiting for the batch in progress to end.
"""

from __future__ import annotations

import asyncio
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
        lanes: int = 1,
    ) -> None:
        """``max_tokens``: a batch's token budget (0: none); ``text_tokens``: the most tokens the
        model reads of one text (longer ones are truncated; 0: no limit); ``lanes``: batches run
        at once, each on a thread of its own (``encode`` must be thread-safe then)."""
        self._encode = encode
        self._max_texts = max(1, max_texts)
        self._max_tokens = max_tokens
        self._text_tokens = text_tokens
        self._pending: deque[_Call] = deque()  # calls with texts not yet in a batch, in turn
        self._ready = threading.Condition()  # guards _pending, _closed and every call's results
        self._closed = False
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{lane}" if lane else name, daemon=True)
            for lane in range(max(1, lanes))
        ]
        for thread in self._threads:
            thread.start()

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return []
        # The same text twice (a repeated turn, a part of a repetitive message) is embedded once.
        distinct = list(dict.fromkeys(texts))
        future: Future[Vectors] = Future()
        with self._ready:
            if self._closed:
                raise RuntimeError("the embedder is closed")
            self._pending.append(_Call(distinct, future, vectors=[None] * len(distinct)))
            self._ready.notify()
        vectors = await asyncio.wrap_future(future)
        if len(distinct) == len(texts):
            return vectors
        by_text = dict(zip(distinct, vectors, strict=True))
        return [by_text[text] for text in texts]

    def close(self) -> None:
        with self._ready:
            self._closed = True
            for call in self._pending:
                future = call.future
                if future.done():
                    continue
                # A waiting call is made running first: one cancelled meanwhile is left be.
                if future.running() or future.set_running_or_notify_cancel():
                    future.set_exception(RuntimeError("the embedder is closed"))
            self._pending.clear()
            self._ready.notify_all()

    def _cost(self, text: str) -> int:
        tokens = estimate_tokens(text) + 2  # and the model's two special tokens
        return min(tokens, self._text_tokens + 2) if self._text_tokens else tokens

    def _run(self) -> None:
        """One lane: the next batch as soon as it is free, until closed."""
        while True:
            with self._ready:
                while not self._pending and not self._closed:
                    self._ready.wait()
                if self._closed:
                    return
                batch = self._next_batch(self._pending)
                if self._pending:
                    self._ready.notify()  # more to do: a free lane takes it
            if batch:
                self._serve(batch)

    def _next_batch(self, pending: deque[_Call]) -> list[tuple[_Call, int]]:
        """One text of each waiting call in turn, within the batch's bounds; at least one text."""
        batch: list[tuple[_Call, int]] = []
        tokens = 0
        while pending and len(batch) < self._max_texts:
            call = pending[0]
            if call.future.done():  # failed with an earlier batch, or cancelled while waiting
                pending.popleft()
                continue
            cost = self._cost(call.texts[call.taken])
            if batch and self._max_tokens and tokens + cost > self._max_tokens:
                break
            # Running from its first text on, so it can no longer be cancelled: its results are
            # always set on a live future.
            if call.taken == 0 and not call.future.set_running_or_notify_cancel():
                pending.popleft()
                continue
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
            if len(vectors) != len(texts):
                raise RuntimeError(f"the model gave {len(vectors)} vectors for {len(texts)} texts")
        except Exception as exc:
            # The batch's calls fail whole; their texts still waiting are dropped with them.
            with self._ready:
                for call in {call for call, _ in batch}:
                    if not call.future.done():
                        call.future.set_exception(exc)
            return
        observe_embedding(len(texts), time.perf_counter() - started)
        with self._ready:  # another lane may be serving texts of the same calls
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
        lanes: int = 0,
    ) -> None:
        """``lanes`` > 0: the model runs each text alone, on that many threads at once (a batch
        is one text); 0: one thread, batches of ``max_batch_texts``."""
        self._settings = settings
        self._dimension = dimension
        self._max_tokens = max_tokens
        self._batcher = Batcher(
            encode,
            1 if lanes else settings.max_batch_texts,
            thread_name,
            max_tokens=settings.max_batch_tokens,
            text_tokens=max_tokens,
            lanes=max(lanes, 1),
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
