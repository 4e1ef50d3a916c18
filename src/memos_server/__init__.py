"""memos-server: self-hosted long-term memory for LLM applications (MemOS Cloud API)."""

__version__ = "0.1.0"
