"""Any OpenAI-compatible embeddings endpoint (OpenAI, DashScope, vLLM, Ollama, ...)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from openai import AsyncOpenAI, OpenAIError

from memos_server.embedding.base import TextKind, estimate_tokens
from memos_server.errors import ConfigurationError, ServiceUnavailable
from memos_server.metrics import observe_embedding
from memos_server.settings import EmbeddingSettings


def _unit(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


class OpenAIEmbedder:
    def __init__(self, settings: EmbeddingSettings, client: AsyncOpenAI, dimension: int) -> None:
        self._settings = settings
        self._client = client
        self._dimension = dimension

    @classmethod
    async def connect(cls, settings: EmbeddingSettings) -> OpenAIEmbedder:
        if not settings.base_url:
            raise ConfigurationError("MEMOS_EMBEDDING__BASE_URL is required for provider openai")
        client = AsyncOpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value() if settings.api_key else "unused",
            timeout=settings.timeout_s,
        )
        embedder = cls(settings, client, settings.dimensions or 0)
        if not settings.dimensions:
            try:
                probe = await embedder._create(["dimension probe"])
            except ServiceUnavailable as exc:
                await client.close()
                raise ConfigurationError(
                    f"cannot reach the embeddings endpoint to learn its dimension: {exc}"
                ) from exc
            embedder._dimension = len(probe[0])
        return embedder

    @property
    def name(self) -> str:
        return f"openai:{self._settings.model}"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._settings.max_tokens

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    async def _create(self, texts: list[str]) -> list[list[float]]:
        started = time.perf_counter()
        try:
            if self._settings.dimensions:
                response = await self._client.embeddings.create(
                    model=self._settings.model, input=texts, dimensions=self._settings.dimensions
                )
            else:
                response = await self._client.embeddings.create(
                    model=self._settings.model, input=texts
                )
        except OpenAIError as exc:
            raise ServiceUnavailable(f"embedding endpoint failed: {type(exc).__name__}") from exc
        observe_embedding(len(texts), time.perf_counter() - started)
        ordered = sorted(response.data, key=lambda item: item.index)
        return [_unit(item.embedding) for item in ordered]

    async def embed(
        self, texts: Sequence[str], kind: TextKind = TextKind.PASSAGE
    ) -> list[list[float]]:
        vectors: list[list[float]] = []
        batch = self._settings.batch_size
        for start in range(0, len(texts), batch):
            vectors.extend(await self._create(list(texts[start : start + batch])))
        return vectors

    async def aclose(self) -> None:
        await self._client.close()
