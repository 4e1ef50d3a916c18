"""Choose and load the embedding provider the settings name."""

from __future__ import annotations

import asyncio
from pathlib import Path

from memos_server.embedding.base import Embedder
from memos_server.settings import EmbeddingSettings


async def load_embedder(settings: EmbeddingSettings, cache_dir: Path) -> Embedder:
    """``cache_dir`` keeps what a local model derives once (its ONNX export)."""
    if settings.provider == "openai":
        from memos_server.embedding.openai_api import OpenAIEmbedder

        return await OpenAIEmbedder.connect(settings)
    from memos_server.embedding.local import load_local

    return await asyncio.to_thread(load_local, settings, cache_dir)
