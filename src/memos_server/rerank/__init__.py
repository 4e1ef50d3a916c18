"""Optional rerankers: reorder search's best candidates with a model that reads query and text
together. Off by default; a local cross-encoder path or an HTTP ``/rerank`` endpoint."""

from memos_server.rerank.base import Reranker
from memos_server.rerank.factory import load_reranker

__all__ = ["Reranker", "load_reranker"]
