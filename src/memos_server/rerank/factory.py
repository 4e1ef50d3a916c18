"""Choose the reranker the settings name, if any."""

from __future__ import annotations

import asyncio

from memos_server.rerank.base import Reranker
from memos_server.settings import SearchSettings


async def load_reranker(settings: SearchSettings) -> Reranker | None:
    target = settings.reranker
    if not target:
        return None
    if target.startswith(("http://", "https://")):
        from memos_server.rerank.http_endpoint import HttpReranker

        key = settings.reranker_api_key.get_secret_value() if settings.reranker_api_key else None
        return HttpReranker(target, key, settings.reranker_model, settings.reranker_timeout_s)
    from memos_server.rerank.cross_encoder import CrossEncoderReranker

    return await asyncio.to_thread(CrossEncoderReranker.load, target)
