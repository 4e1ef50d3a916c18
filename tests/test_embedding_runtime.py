"""The local model's runtimes (ONNX and torch give the same vectors) and micro-batching."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from memos_server.embedding.batching import Batcher
from memos_server.embedding.local import TorchEmbedder, load_local
from memos_server.embedding.onnx_local import OnnxEmbedder
from memos_server.settings import MINILM_LOCAL_MODEL as MINILM
from memos_server.settings import EmbeddingSettings
from tests.support.held_model import HeldModel
from tests.support.paths import MODEL_CACHE

TEXTS = ["Where does the user like to stay?", "我喜欢住在如家酒店，因为便宜。", "a", "word " * 400]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_onnx_and_torch_give_the_same_vectors() -> None:
    async def run() -> None:
        onnx = load_local(EmbeddingSettings(model=MINILM), MODEL_CACHE)
        torch = load_local(EmbeddingSettings(model=MINILM, runtime="torch"), MODEL_CACHE)
        try:
            assert isinstance(onnx, OnnxEmbedder)
            assert isinstance(torch, TorchEmbedder)
            assert (onnx.name, onnx.dimension, onnx.max_tokens) == (
                torch.name,
                torch.dimension,
                torch.max_tokens,
            )
            assert [onnx.count_tokens(t) for t in TEXTS] == [torch.count_tokens(t) for t in TEXTS]
            for a, b in zip(await onnx.embed(TEXTS), await torch.embed(TEXTS), strict=True):
                assert cosine(a, b) > 0.9999
                assert abs(cosine(a, a) - 1.0) < 1e-5
        finally:
            await onnx.aclose()
            await torch.aclose()

    asyncio.run(run())


def test_a_batch_split_over_the_runs_gives_each_text_its_vector_alone() -> None:
    """Each run has one thread; a batch is cut into sub-batches that run side by side. Whatever
    sub-batch a text lands in (beside which padding), its vector is the one it gets alone."""
    texts = [*TEXTS, *(f"memory number {i}: 我第{i}次去杭州" for i in range(9))]

    async def run() -> None:
        embedder = load_local(EmbeddingSettings(model=MINILM, threads=2), MODEL_CACHE)
        try:
            together = await embedder.embed(texts)
            runs = {t.name for t in threading.enumerate() if t.name.startswith("embed-onnx-run")}
            assert len(runs) >= 2  # this embedder's two (a pool closed earlier may linger)
            for text, vector in zip(texts, together, strict=True):
                [alone] = await embedder.embed([text])
                assert cosine(vector, alone) > 0.99999
        finally:
            await embedder.aclose()

    asyncio.run(run())


def test_the_onnx_export_is_made_once_and_reused(tmp_path: Path) -> None:
    cache = tmp_path / "models"
    first = load_local(EmbeddingSettings(model=MINILM), cache)
    [exported] = list(cache.iterdir())
    stamp = exported.stat().st_mtime_ns
    second = load_local(EmbeddingSettings(model=MINILM), cache)
    assert [p.name for p in cache.iterdir()] == [exported.name]
    assert exported.stat().st_mtime_ns == stamp
    asyncio.run(first.aclose())
    asyncio.run(second.aclose())


def test_concurrent_calls_share_a_batch_and_get_their_own_vectors() -> None:
    model = HeldModel()
    batches, release = model.batches, model.release
    batcher = Batcher(model.encode, max_texts=64, name="test-batcher")

    async def run() -> list[list[list[float]]]:
        first = asyncio.ensure_future(batcher.embed(["a"]))
        await asyncio.sleep(0.05)  # the first call is in the model now; the rest queue up
        rest = [asyncio.ensure_future(batcher.embed(["b" * n, "c"])) for n in range(2, 6)]
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(first, *rest)

    results = asyncio.run(run())
    assert results[0] == [[1.0]]
    assert results[1:] == [[[float(n)], [1.0]] for n in range(2, 6)]
    assert [len(b) for b in batches] == [1, 8]
    batcher.close()


def test_with_lanes_a_text_starts_on_a_free_lane_while_another_runs() -> None:
    """e5's batcher (a text a batch, a lane per core): a query arriving while another text is in
    the model does not wait for it, and a bulk call's texts run on every lane."""
    release = threading.Event()
    ran: list[tuple[str, str]] = []

    def encode(texts: list[str]) -> list[list[float]]:
        [text] = texts
        ran.append((text, threading.current_thread().name))
        if text == "slow":
            release.wait(5)
        else:
            time.sleep(0.01)  # the model's time: the other lane takes the next text meanwhile
        return [[float(len(text))]]

    batcher = Batcher(encode, max_texts=1, name="test-lanes", lanes=2)

    async def run() -> None:
        slow = asyncio.ensure_future(batcher.embed(["slow"]))
        await asyncio.sleep(0.05)  # "slow" holds one lane
        assert await asyncio.wait_for(batcher.embed(["quick"]), 2) == [[5.0]]
        assert not slow.done()
        release.set()
        assert await slow == [[4.0]]
        bulk = [f"text {i}" for i in range(40)]
        assert await batcher.embed(bulk) == [[float(len(t))] for t in bulk]

    asyncio.run(run())
    batcher.close()
    assert {name for text, name in ran if text.startswith("text ")} == {
        "test-lanes",
        "test-lanes-1",
    }


def test_a_call_cancelled_while_waiting_is_never_embedded() -> None:
    release = threading.Event()
    ran: list[str] = []

    def encode(texts: list[str]) -> list[list[float]]:
        ran.extend(texts)
        release.wait(5)
        return [[1.0] for _ in texts]

    batcher = Batcher(encode, max_texts=8, name="test-cancel")

    async def run() -> None:
        first = asyncio.ensure_future(batcher.embed(["first"]))
        await asyncio.sleep(0.05)  # in the model
        waiting = asyncio.ensure_future(batcher.embed(["dropped"]))
        await asyncio.sleep(0.05)
        waiting.cancel()  # the client went away
        await asyncio.sleep(0.05)
        release.set()
        assert await first == [[1.0]]
        assert await batcher.embed(["next"]) == [[1.0]]

    asyncio.run(run())
    batcher.close()
    assert ran == ["first", "next"]


def test_a_failing_batch_fails_its_callers_and_the_batcher_goes_on() -> None:
    calls = 0

    def encode(texts: list[str]) -> list[list[float]]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("model broke")
        return [[1.0] for _ in texts]

    batcher = Batcher(encode, max_texts=8, name="test-batcher")

    async def run() -> None:
        with pytest.raises(ValueError, match="model broke"):
            await batcher.embed(["x"])
        assert await batcher.embed(["y"]) == [[1.0]]
        batcher.close()
        with pytest.raises(RuntimeError, match="closed"):
            await batcher.embed(["z"])

    asyncio.run(run())
