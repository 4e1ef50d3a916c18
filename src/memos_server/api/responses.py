"""Error responses every route documents in OpenAPI: all of them the MemOS error envelope."""

from __future__ import annotations

from typing import Any

from memos_server.api.schemas.common import ErrorEnvelope

_STATUSES: dict[int | str, str] = {
    400: "Bad parameters (40000), a required field empty (40002), an unsupported type (40006)",
    401: "API key missing (40100) or invalid (40132)",
    413: "Input too long (40305; user_id 40010, conversation_id 40011)",
    429: "Rate limited (40300): this key's requests per second; wait Retry-After seconds",
    # Declaring the range keeps FastAPI from documenting its own 422 body, which this service
    # never sends: a validation error is a 400 in the envelope.
    "4XX": "Any other client error (an unknown endpoint, a wrong method), in the same envelope",
    500: "Internal error (50000)",
    503: "Database, model or LLM unavailable, or no LLM configured (50004)",
}

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": text} for status, text in _STATUSES.items()
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorEnvelope, "description": "Not found (40001)"}
}
NOT_LINKED: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope, "description": "Another project's knowledge base (50123)"}
}
MEMORY_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorEnvelope, "description": "Memory not found (40307)"}
}
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    **{status: spec for status, spec in ERRORS.items() if status != 429},
    401: {"model": ErrorEnvelope, "description": "Admin key missing (40100) or wrong (40132)"},
    403: {"model": ErrorEnvelope, "description": "The admin API is off: no MEMOS_ADMIN_KEY"},
}
