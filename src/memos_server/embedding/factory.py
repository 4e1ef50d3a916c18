"""Choose and load the embedding provider the settings name."""

from __future__ import annotations

import asyncio

from memos_server.embedding.base import Embedder
from memos_server.settings import EmbeddingSettings


async def load_embedder(settings: EmbeddingSettings) -> Embedder:
    if settings.provider == "openai":
        from memos_server.embedding.openai_api import OpenAIEmbedder

        return await OpenAIEmbedder.connect(settings)
    from memos_server.embedding.local import LocalEmbedder

    return await asyncio.to_thread(LocalEmbedder.load, settings)
