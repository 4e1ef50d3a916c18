"""A rerank server over HTTP, in the shape common rerank servers share.

Request ``{"query": ..., "documents": [...], "top_n": n}``; the answer is either
``{"results": [{"index": i, "relevance_score": s}, ...]}`` (Cohere, Jina, vLLM, Xinference) or a
bare list ``[{"index": i, "score": s}, ...]`` (text-embeddings-inference).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from memos_server.errors import SearchUnavailable


class HttpReranker:
    def __init__(self, url: str, api_key: str | None, model: str | None, timeout_s: float) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout_s)
        self._url = url
        self._model = model
        self.name = model or url

    async def scores(self, query: str, documents: Sequence[str]) -> list[float]:
        body: dict[str, Any] = {"query": query, "documents": list(documents)}
        body["top_n"] = len(documents)
        if self._model:
            body["model"] = self._model
        try:
            response = await self._client.post(self._url, json=body)
            response.raise_for_status()
            answer = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise SearchUnavailable(f"rerank endpoint failed: {type(error).__name__}") from error
        results = answer.get("results", answer) if isinstance(answer, dict) else answer
        scores = [float("-inf")] * len(documents)
        try:
            for item in results:
                score = item.get("relevance_score", item.get("score"))
                scores[int(item["index"])] = float(score)
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise SearchUnavailable("rerank endpoint answered in an unknown shape") from error
        return scores

    async def aclose(self) -> None:
        await self._client.aclose()
