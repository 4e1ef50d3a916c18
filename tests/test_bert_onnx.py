"""all-MiniLM-L6-v2 without torch: the graph written from its safetensors (``bert_onnx``) gives
the vectors of the torch export it replaces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.e5_texts import varied_texts
from memos_server.embedding.local import resolve_model_path
from memos_server.embedding.onnx_export import ModelLayout, cached_onnx, read_layout
from memos_server.embedding.onnx_local import OnnxEmbedder
from memos_server.settings import MINILM_LOCAL_MODEL, EmbeddingSettings
from tests.support.paths import MODEL_CACHE

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def layout() -> ModelLayout:
    found = read_layout(Path(resolve_model_path(MINILM_LOCAL_MODEL)))
    assert found is not None
    return found


def test_the_graph_is_written_without_torch(tmp_path: Path) -> None:
    # None in sys.modules makes any import of the module fail: torch cannot be used on the way.
    script = (
        "import sys; sys.modules['torch'] = None; sys.modules['sentence_transformers'] = None\n"
        "from pathlib import Path\n"
        "from memos_server.embedding.local import load_local\n"
        "from memos_server.embedding.onnx_local import OnnxEmbedder\n"
        "from memos_server.settings import MINILM_LOCAL_MODEL, EmbeddingSettings\n"
        "embedder = load_local(EmbeddingSettings(model=MINILM_LOCAL_MODEL), Path(sys.argv[1]))\n"
        "assert isinstance(embedder, OnnxEmbedder), type(embedder)\n"
        "print(embedder.dimension)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["384"]
    [written] = tmp_path.iterdir()
    assert "-bert-" in written.name


def test_the_torch_free_graph_gives_the_torch_exports_vectors(layout: ModelLayout) -> None:
    pytest.importorskip("torch", reason="the torch export to compare with needs the torch extra")
    settings = EmbeddingSettings(model=MINILM_LOCAL_MODEL)
    built = OnnxEmbedder(settings, layout, cached_onnx(layout, MODEL_CACHE))
    exported = OnnxEmbedder(settings, layout, cached_onnx(layout, MODEL_CACHE, via_torch=True))
    texts = varied_texts(300)
    chinese = [t for t in texts if any("\u4e00" <= ch <= "\u9fff" for ch in t)]
    assert len(chinese) >= 50
    # _encode: the vectors themselves, without the batcher's thread.
    a, b = built._encode(texts), exported._encode(texts)
    cosines = (a * b).sum(axis=1)
    assert float(cosines.min()) >= 0.999, texts[int(np.argmin(cosines))]
