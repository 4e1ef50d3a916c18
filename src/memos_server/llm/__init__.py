"""Chat models behind one small interface (``LLM``): any OpenAI-compatible endpoint."""

from memos_server.llm.base import LLM, Completion, LLMUnavailable

__all__ = ["LLM", "Completion", "LLMUnavailable"]
