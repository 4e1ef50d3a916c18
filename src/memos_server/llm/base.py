"""The interface every chat model implements, and its failure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from memos_server.errors import ServiceUnavailable


class LLMUnavailable(ServiceUnavailable):
    """The model did not answer usefully: timeouts, errors, or refusal after all retries."""

    default_message = "the language model is unavailable"


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LLM(Protocol):
    @property
    def name(self) -> str:
        """The model's name, for logs and task records."""

    async def complete(
        self, messages: Sequence[dict[str, str]], *, json_output: bool = False
    ) -> Completion:
        """One chat completion. ``json_output`` asks for a JSON object where the endpoint can."""

    async def aclose(self) -> None:
        """Release what it holds."""
