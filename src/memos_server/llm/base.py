"""The interface every chat model implements, and its failure."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from memos_server.errors import ServiceUnavailable


class LLMUnavailable(ServiceUnavailable):
    """The model did not answer usefully: timeouts, errors, or refusal after all retries."""

    default_message = "the language model is unavailable"


@dataclass(frozen=True)
class Sampling:
    """Per-call overrides of the configured sampling; None keeps the configured value."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning: str = ""  # what reasoning models return beside the answer (``reasoning_content``)


@dataclass(frozen=True)
class Delta:
    """One piece of a streamed answer: answer text, reasoning text, or (rarely) both."""

    text: str = ""
    reasoning: str = ""


class LLM(Protocol):
    @property
    def name(self) -> str:
        """The model's name, for logs and task records."""

    async def complete(
        self,
        messages: Sequence[dict[str, str]],
        *,
        json_output: bool = False,
        sampling: Sampling | None = None,
    ) -> Completion:
        """One chat completion. ``json_output`` asks for a JSON object where the endpoint can."""

    def stream(
        self, messages: Sequence[dict[str, str]], *, sampling: Sampling | None = None
    ) -> AsyncIterator[Delta]:
        """One chat completion, piece by piece as the model writes it.

        Failing to start raises ``LLMUnavailable`` from the first ``__anext__`` (after the same
        retries as ``complete``); failing midway raises it where the answer breaks off.
        """

    async def aclose(self) -> None:
        """Release what it holds."""
