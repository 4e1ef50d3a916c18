"""An OpenAI-compatible chat endpoint: OpenAI, DeepSeek, Qwen/DashScope, vLLM, Ollama, ...

Retries timeouts, connection failures, 429 and 5xx with exponential back-off; limits the calls in
flight; asks for ``response_format={"type": "json_object"}`` where the endpoint supports it and
stops asking, for good, the first time the endpoint refuses it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from typing import Any

from openai import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncOpenAI,
    OpenAIError,
)

from memos_server.llm.base import Completion, LLMUnavailable
from memos_server.settings import LLMSettings

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 8.0


def _refuses_response_format(error: APIStatusError) -> bool:
    """A 400/422 that names response_format (or JSON mode): the endpoint does not support it."""
    if error.status_code not in (400, 404, 415, 422, 501):
        return False
    text = f"{error.message} {error.body}".lower()
    return "response_format" in text or "json_object" in text or "json mode" in text


def _retryable(error: Exception) -> bool:
    if isinstance(error, APITimeoutError | APIConnectionError):
        return True
    return isinstance(error, APIStatusError) and (
        error.status_code == 429 or error.status_code >= 500
    )


class OpenAIChat:
    def __init__(self, settings: LLMSettings) -> None:
        if not (settings.base_url and settings.model):
            raise ValueError("an LLM needs MEMOS_LLM__BASE_URL and MEMOS_LLM__MODEL")
        self._settings = settings
        self._model: str = settings.model
        self._client = AsyncOpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value() if settings.api_key else "unused",
            timeout=settings.timeout_s,
            max_retries=0,  # retried here, where back-off and the JSON fallback are decided
        )
        self._in_flight = asyncio.Semaphore(settings.concurrency)
        self._json_supported = settings.json_mode != "off"

    @property
    def name(self) -> str:
        return self._model

    async def complete(
        self, messages: Sequence[dict[str, str]], *, json_output: bool = False
    ) -> Completion:
        attempt = 0
        while True:
            use_json = json_output and self._json_supported
            try:
                async with self._in_flight:
                    return await self._create(messages, use_json)
            except APIStatusError as error:
                if (
                    use_json
                    and self._settings.json_mode == "auto"
                    and _refuses_response_format(error)
                ):
                    log.warning(
                        "LLM endpoint refused response_format (HTTP %d); using plain prompting",
                        error.status_code,
                    )
                    self._json_supported = False
                    continue
                if not _retryable(error) or attempt >= self._settings.max_retries:
                    raise LLMUnavailable(
                        f"LLM endpoint answered HTTP {error.status_code}"
                    ) from error
            except (APITimeoutError, APIConnectionError) as error:
                if attempt >= self._settings.max_retries:
                    kind = "timed out" if isinstance(error, APITimeoutError) else "unreachable"
                    raise LLMUnavailable(f"LLM endpoint {kind}") from error
            except OpenAIError as error:
                raise LLMUnavailable(f"LLM call failed: {type(error).__name__}") from error
            attempt += 1
            delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
            await asyncio.sleep(delay * (0.5 + random.random() / 2))  # noqa: S311

    async def _create(self, messages: Sequence[dict[str, str]], use_json: bool) -> Completion:
        extra: dict[str, Any] = {}
        if use_json:
            extra["response_format"] = {"type": "json_object"}
        response = await self._client.chat.completions.create(
            model=self._model,
            messages=list(messages),  # type: ignore[arg-type]
            temperature=self._settings.temperature,
            max_tokens=self._settings.max_output_tokens,
            **extra,
        )
        if not response.choices:
            raise LLMUnavailable("LLM endpoint answered with no choices")
        usage = response.usage
        return Completion(
            text=response.choices[0].message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
        )

    async def aclose(self) -> None:
        await self._client.close()


def build_llm(settings: LLMSettings) -> OpenAIChat | None:
    """The configured model, or None: fast mode."""
    return OpenAIChat(settings) if settings.configured else None
