"""Text embedding providers behind one small interface (``Embedder``)."""

from memos_server.embedding.base import Embedder, TextKind
from memos_server.embedding.factory import load_embedder

__all__ = ["Embedder", "TextKind", "load_embedder"]
