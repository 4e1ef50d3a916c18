"""One envelope for every failure: ``{"code": <MemOS code>, "message": ..., "data": null}``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from memos_server.errors import (
    BadRequest,
    ConversationIdTooLong,
    DatabaseUnavailable,
    MemosError,
    NotFound,
    RequiredFieldEmpty,
    TooLong,
    UnsupportedType,
    UserIdTooLong,
)
from memos_server.storage.database import unavailable

log = logging.getLogger(__name__)

_TOO_LONG = {"user_id": UserIdTooLong, "conversation_id": ConversationIdTooLong}


def render(error: MemosError) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after_s)} if error.retry_after_s else None
    return JSONResponse(
        status_code=error.status,
        content={"code": error.code, "message": error.message, "data": None},
        headers=headers,
    )


def database_away(request: Request, exc: BaseException) -> JSONResponse:
    log.warning("database unavailable during %s: %s", request.url.path, type(exc).__name__)
    return render(DatabaseUnavailable())


def _field(loc: Sequence[Any]) -> str:
    """``("body", "messages", 2, "content")`` → ``messages[2].content``."""
    parts = [p for p in loc if p not in ("body",)]
    # Tagged-union and type names pydantic adds to the path say nothing to a client.
    parts = [p for p in parts if not (isinstance(p, str) and ("[" in p or p in _UNION_TAGS))]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


_UNION_TAGS = {"str", "list", "text", "image_url", "file", "function-after"}


def _most_specific(errors: Sequence[Any]) -> Any:
    """Of the errors about the first bad field, the deepest one.

    For a union such as ``content: str | list[part]``, pydantic reports one error per member;
    the one inside the list (``an unknown part type``) says more than ``not a string``.
    """
    field = _field(errors[0].get("loc", ()))
    same = [e for e in errors if _field(e.get("loc", ())).startswith(field)]
    return max(same, key=lambda e: len(_field(e.get("loc", ()))))


def from_validation(errors: Sequence[Any]) -> MemosError:
    """The first problem, as the MemOS error a client can act on."""
    first = _most_specific(errors)
    kind = first.get("type", "")
    field = _field(first.get("loc", ()))
    if kind == "json_invalid":
        return BadRequest("request body is not valid JSON")
    if field == "body" and kind == "value_error":
        return BadRequest(str(first.get("msg", "")).removeprefix("Value error, "))
    if field == "body" and kind in ("model_attributes_type", "dict_type", "model_type"):
        return BadRequest("request body must be a JSON object")
    if kind == "missing":
        return RequiredFieldEmpty(f"{field} is required")
    if (
        kind in ("string_too_short", "too_short")
        and (first.get("ctx") or {}).get("min_length") == 1
    ):
        return RequiredFieldEmpty(f"{field} must not be empty")
    if kind == "string_too_long":
        error_type = _TOO_LONG.get(field, TooLong)
        return error_type(f"{field} is too long: {first.get('msg', '')}")
    if kind in ("union_tag_invalid", "literal_error", "enum"):
        return UnsupportedType(f"{field}: {first.get('msg', 'unsupported value')}")
    message = str(first.get("msg", "invalid value"))
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return BadRequest(f"{field}: {message}")


def install_error_handlers(app: FastAPI, max_body_bytes: int) -> None:
    @app.exception_handler(MemosError)
    async def _memos(_: Request, exc: MemosError) -> JSONResponse:
        return render(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return render(from_validation(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            error: MemosError = NotFound("no such endpoint")
        elif exc.status_code == 413:
            error = TooLong(
                f"request body larger than {max_body_bytes:,} bytes (MEMOS_LIMITS__MAX_BODY_BYTES)"
            )
        else:
            error = BadRequest(str(exc.detail))
            error.status = exc.status_code
        return render(error)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        # Validation should have caught it; a value Postgres refuses is still the client's.
        log.warning("value refused by the database during %s", request.url.path)
        return render(BadRequest("a value in the request cannot be stored"))

    # Postgres stopped or restarting shows up as any of these (see storage.database.unavailable):
    # a refused connection (OSError), a driver error saying the server is shutting down or
    # starting up, a connection dropped mid-statement or mid-commit, no pooled connection free
    # in time. Each is a 503 the client can retry, never a 500.
    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if unavailable(exc):
            return database_away(request, exc)
        log.exception("database error during %s", request.url.path)
        return render(MemosError())

    @app.exception_handler(PoolTimeout)
    async def _pool(request: Request, exc: PoolTimeout) -> JSONResponse:
        return database_away(request, exc)

    @app.exception_handler(OSError)
    async def _os(request: Request, exc: OSError) -> JSONResponse:
        return database_away(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if unavailable(exc):
            return database_away(request, exc)
        log.exception("unexpected error during %s", request.url.path)
        return render(MemosError())
