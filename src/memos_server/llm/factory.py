"""Choose the chat model the settings name, if any."""

from __future__ import annotations

from memos_server.llm.base import LLM
from memos_server.settings import LLMSettings


def build_llm(settings: LLMSettings) -> LLM | None:
    """The configured model, or None: fast mode."""
    if not settings.configured:
        return None
    from memos_server.llm.openai_chat import OpenAIChat

    return OpenAIChat(settings)
