"""Text embedding providers behind one small interface (``Embedder``)."""

from memos_server.embedding.base import Embedder
from memos_server.embedding.factory import load_embedder

__all__ = ["Embedder", "load_embedder"]
