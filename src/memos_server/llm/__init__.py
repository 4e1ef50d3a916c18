"""Chat models behind one small interface (``LLM``): any OpenAI-compatible endpoint."""

from memos_server.llm.base import LLM, Completion, Delta, LLMUnavailable, Sampling

__all__ = ["LLM", "Completion", "Delta", "LLMUnavailable", "Sampling"]
