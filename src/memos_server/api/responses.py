"""Error responses every route documents in OpenAPI."""

from __future__ import annotations

from typing import Any

from memos_server.api.schemas.common import ErrorEnvelope

_STATUSES = {
    400: "Bad parameters (40000), a required field empty (40002), an unsupported type (40006)",
    401: "API key missing (40100) or invalid (40132)",
    413: "Input too long (40305; user_id 40010, conversation_id 40011)",
    500: "Internal error (50000)",
    503: "Database, model or LLM unavailable, or no LLM configured (50004)",
}

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": text} for status, text in _STATUSES.items()
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorEnvelope, "description": "Not found (40001)"}
}
MEMORY_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorEnvelope, "description": "Memory not found (40307)"}
}
