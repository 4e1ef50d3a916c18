"""Error responses every route documents in OpenAPI."""

from __future__ import annotations

from typing import Any

from memos_server.api.schemas.common import ErrorEnvelope

_STATUSES = {
    400: "Bad parameters (40000), a required field empty (40002), an unsupported type (40006)",
    401: "API key missing (40100) or invalid (40132)",
    413: "Input too long (40305; user_id 40010, conversation_id 40011)",
    429: "Rate limited (40300): this key's requests per second; wait Retry-After seconds",
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
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    **{status: spec for status, spec in ERRORS.items() if status != 429},
    401: {"model": ErrorEnvelope, "description": "Admin key missing (40100) or wrong (40132)"},
    403: {"model": ErrorEnvelope, "description": "The admin API is off: no MEMOS_ADMIN_KEY"},
}
