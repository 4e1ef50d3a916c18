"""An OpenAI-compatible chat endpoint: OpenAI, DeepSeek, Qwen/DashScope, vLLM, Ollama, ...

Retries timeouts, connection failures, 429 and 5xx with exponential back-off (a stream: until it
has started); limits the calls in flight; asks for ``response_format={"type": "json_object"}``
where the endpoint supports it and stops asking, for good, the first time the endpoint refuses it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from typing import Any, cast

from openai import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AsyncOpenAI,
    OpenAIError,
)
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel

from memos_server import metrics
from memos_server.llm.base import Completion, Delta, LLMUnavailable, Sampling
from memos_server.settings import LLMSettings
from memos_server.text.storable import storable

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 8.0


def _refuses_response_format(error: APIStatusError) -> bool:
    """A 400/422 that names response_format (or JSON mode): the endpoint does not support it."""
    if error.status_code not in (400, 404, 415, 422, 501):
        return False
    text = f"{error.message} {error.body}".lower()
    return "response_format" in text or "json_object" in text or "json mode" in text


def _wire(messages: Sequence[dict[str, str]]) -> list[ChatCompletionMessageParam]:
    return cast("list[ChatCompletionMessageParam]", list(messages))


def _reasoning_of(message: Any) -> str:
    """``reasoning_content`` (DeepSeek, Qwen, vLLM): not in the OpenAI schema, so an extra."""
    extra = getattr(message, "model_extra", None) or {}
    value = extra.get("reasoning_content") or extra.get("reasoning")
    return value if isinstance(value, str) else ""


def _not_a_completion(what: str) -> LLMUnavailable:
    metrics.llm_failed("malformed")
    return LLMUnavailable(
        f"the LLM endpoint answered something that is not a chat completion ({what})"
    )


def _text_of(content: Any) -> str:
    """A message's ``content``: a string, or (some endpoints) a list of parts whose text parts
    are joined; anything else is not an answer."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(isinstance(part, dict) for part in content):
        return "".join(p["text"] for p in content if isinstance(p.get("text"), str))
    raise _not_a_completion("a message whose content is not text")


def _count(value: Any) -> int:
    """A token count as the endpoint reported it: missing, null or not a count is 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _broke_off(error: OpenAIError) -> str:
    if isinstance(error, APITimeoutError):
        return "LLM endpoint timed out while answering"
    if isinstance(error, APIError) and error.message:
        return f"LLM endpoint broke off its answer: {error.message}"
    return f"LLM endpoint broke off its answer ({type(error).__name__})"


async def _back_off(attempt: int) -> None:
    delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
    await asyncio.sleep(delay * (0.5 + random.random() / 2))  # noqa: S311


def _reason(error: OpenAIError) -> str:
    """A failed attempt's label in ``memos_llm_failures_total``: a handful of values."""
    if isinstance(error, APITimeoutError):
        return "timeout"
    if isinstance(error, APIConnectionError):
        return "unreachable"
    if isinstance(error, APIStatusError):
        return "http_429" if error.status_code == 429 else f"http_{error.status_code // 100}xx"
    return "other"


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
        self,
        messages: Sequence[dict[str, str]],
        *,
        json_output: bool = False,
        sampling: Sampling | None = None,
    ) -> Completion:
        with metrics.llm_call("complete"):
            attempt = 0
            while True:
                use_json = json_output and self._json_supported
                try:
                    async with self._in_flight:
                        # The whole call, not only each read: an endpoint that drips its answer
                        # (or keep-alive blanks) would otherwise hold the call for ever.
                        async with asyncio.timeout(self._settings.timeout_s):
                            return await self._create(messages, use_json, sampling)
                except TimeoutError:
                    metrics.llm_failed("timeout")
                    if attempt >= self._settings.max_retries:
                        raise LLMUnavailable("LLM endpoint timed out") from None
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
                    self._give_up_unless_retryable(error, attempt)
                except OpenAIError as error:
                    self._give_up_unless_retryable(error, attempt)
                attempt += 1
                await _back_off(attempt)

    async def stream(
        self, messages: Sequence[dict[str, str]], *, sampling: Sampling | None = None
    ) -> AsyncIterator[Delta]:
        # Timed to the last piece; a client that leaves midway closes the stream uncounted.
        with metrics.llm_call("stream"):
            async with aclosing(self._stream(messages, sampling)) as deltas:
                async for delta in deltas:
                    yield delta

    async def _stream(
        self, messages: Sequence[dict[str, str]], sampling: Sampling | None
    ) -> AsyncGenerator[Delta, None]:
        # A slot is held from the request until the last piece, like a whole ``complete``; it is
        # given back during the back-off between attempts to start.
        attempt = 0
        while True:
            await self._in_flight.acquire()
            try:
                temperature, max_tokens, top_p = self._sampling(sampling)
                chunks = await self._client.chat.completions.create(
                    model=self._model,
                    messages=_wire(messages),
                    stream=True,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    extra_body=top_p or None,
                )
                break
            except OpenAIError as error:
                self._in_flight.release()
                self._give_up_unless_retryable(error, attempt)
            except BaseException:
                self._in_flight.release()
                raise
            attempt += 1
            await _back_off(attempt)
        finished = False
        try:
            async for chunk in chunks:
                choices = getattr(chunk, "choices", None)
                if not choices:
                    continue  # usage-only or keep-alive chunks
                if not isinstance(choices, list):
                    raise _not_a_completion("a stream piece")
                finished = finished or getattr(choices[0], "finish_reason", None) is not None
                delta = getattr(choices[0], "delta", None)
                if delta is None:
                    continue
                if not isinstance(delta, BaseModel):
                    raise _not_a_completion("a stream piece")
                text, reasoning = _text_of(getattr(delta, "content", None)), _reasoning_of(delta)
                if text or reasoning:
                    # A model's NUL or lone surrogate would break the answer's JSON or its turn.
                    yield Delta(text=storable(text), reasoning=storable(reasoning))
        except OpenAIError as error:
            metrics.llm_failed("broke_off")
            raise LLMUnavailable(_broke_off(error)) from error
        except ValueError as error:  # a piece that is not JSON (or not UTF-8)
            raise _not_a_completion("a stream piece") from error
        finally:
            self._in_flight.release()
            await chunks.close()
        if not finished:
            # The body ended (a connection closed midway) before the model said it was done:
            # half an answer, not one to store.
            metrics.llm_failed("broke_off")
            raise LLMUnavailable("the LLM's answer broke off: its stream ended unfinished")

    def _give_up_unless_retryable(self, error: OpenAIError, attempt: int) -> None:
        """Raise ``LLMUnavailable`` unless ``error`` is worth another attempt."""
        metrics.llm_failed(_reason(error))
        if isinstance(error, APIStatusError):
            if not _retryable(error) or attempt >= self._settings.max_retries:
                raise LLMUnavailable(f"LLM endpoint answered HTTP {error.status_code}") from error
        elif isinstance(error, APITimeoutError | APIConnectionError):
            if attempt >= self._settings.max_retries:
                kind = "timed out" if isinstance(error, APITimeoutError) else "unreachable"
                raise LLMUnavailable(f"LLM endpoint {kind}") from error
        else:
            raise LLMUnavailable(f"LLM call failed: {type(error).__name__}") from error

    def _sampling(self, sampling: Sampling | None) -> tuple[float, int, dict[str, float]]:
        """Temperature, max_tokens and (only if asked for) top_p of one call: the request's
        where given, else the settings'."""
        chosen = sampling or Sampling()
        temperature = (
            self._settings.temperature if chosen.temperature is None else chosen.temperature
        )
        # Clients ask for more than many endpoints allow (the MemOS SDK sends 8192); the
        # configured longest answer caps it.
        ceiling = self._settings.max_output_tokens
        max_tokens = ceiling if chosen.max_tokens is None else min(chosen.max_tokens, ceiling)
        # Sent only when asked for: some endpoints refuse top_p beside temperature.
        top_p = {} if chosen.top_p is None else {"top_p": chosen.top_p}
        return temperature, max_tokens, top_p

    async def _create(
        self, messages: Sequence[dict[str, str]], use_json: bool, sampling: Sampling | None
    ) -> Completion:
        temperature, max_tokens, top_p = self._sampling(sampling)
        extra: dict[str, Any] = {"extra_body": top_p or None}
        if use_json:
            extra["response_format"] = {"type": "json_object"}
        try:
            response: Any = await self._client.chat.completions.create(
                model=self._model,
                messages=_wire(messages),
                temperature=temperature,
                max_tokens=max_tokens,
                **extra,
            )
        except ValueError as error:  # a body that is not JSON (or not UTF-8)
            raise _not_a_completion("its answer") from error
        # The client builds the response without validating it: read it as untrusted.
        if not isinstance(response, BaseModel):  # JSON but no object (a string), or HTML
            raise _not_a_completion("its answer")
        choices = getattr(response, "choices", None)
        if not choices:
            metrics.llm_failed("no_choices")
            raise LLMUnavailable("LLM endpoint answered with no choices")
        if not isinstance(choices, list):
            raise _not_a_completion("its answer")
        message = getattr(choices[0], "message", None)
        if not isinstance(message, BaseModel):  # missing, or a string where an object goes
            raise _not_a_completion("a choice without a message")
        usage = getattr(response, "usage", None)
        prompt_tokens = _count(getattr(usage, "prompt_tokens", None))
        completion_tokens = _count(getattr(usage, "completion_tokens", None))
        metrics.llm_used(prompt_tokens, completion_tokens)
        return Completion(
            text=storable(_text_of(getattr(message, "content", None))),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            reasoning=storable(_reasoning_of(message)),
        )

    async def aclose(self) -> None:
        await self._client.close()
