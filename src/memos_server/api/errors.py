"""One envelope for every failure: ``{"code": <MemOS code>, "message": ..., "data": null}``."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from asyncpg import PostgresError
from asyncpg.exceptions import DataError as DriverDataError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memos_server.api.schemas.common import NOT_BLANK
from memos_server.errors import (
    BadRequest,
    ConversationIdTooLong,
    DatabaseTimeout,
    DatabaseUnavailable,
    EmbeddingModelRetired,
    MemoryWriteFailed,
    MemosError,
    MessageWriteFailed,
    NotFound,
    RelativityInvalid,
    RequiredFieldEmpty,
    TooLong,
    UnsupportedType,
    UserIdTooLong,
)
from memos_server.storage.database import MODEL_RETIRED_STATE, timed_out, unavailable

log = logging.getLogger(__name__)

_TOO_LONG = {"user_id": UserIdTooLong, "conversation_id": ConversationIdTooLong}
_NOT_JSON = "request body is not valid JSON"


def render(error: MemosError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    if error.retry_after_s:
        headers = {**(headers or {}), "Retry-After": str(error.retry_after_s)}
    return JSONResponse(
        status_code=error.status,
        content={"code": error.code, "message": error.message, "data": None},
        headers=headers,
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (RFC 9110's Allow). Starlette names only the
    first route that matched the path, which leaves out POST where GET and POST are two routes."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]
    return ", ".join(allowed)


def database_away(request: Request, exc: BaseException) -> JSONResponse:
    log.warning("database unavailable during %s: %s", request.url.path, type(exc).__name__)
    return render(DatabaseUnavailable())


def database_slow(request: Request) -> JSONResponse:
    log.warning("statement timeout during %s", request.url.path)
    return render(DatabaseTimeout())


# Where a refused write is the Cloud's "failed to add message" (50144) or "failed to add
# memory" (50143): by the endpoint, the rest of the path after the API prefix.
_MESSAGE_WRITES = ("/add/message", "/chat")
_MEMORY_WRITES = ("/add/feedback", "/update/memory")


def write_failure(path: str) -> MemosError:
    """The error for a database failure that is neither an outage nor the client's value: the
    write the endpoint makes, when it makes one, else an internal error."""
    if path.endswith(_MESSAGE_WRITES):
        return MessageWriteFailed()
    if path.endswith(_MEMORY_WRITES):
        return MemoryWriteFailed()
    return MemosError()


def _sqlstate(exc: BaseException) -> str:
    """The SQLSTATE of the driver's error, or of the one SQLAlchemy's wraps ("" if none)."""
    state = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "sqlstate", None)
    return str(state or "")


def _field(loc: Sequence[Any]) -> str:
    """``("body", "messages", 2, "content")`` → ``messages[2].content``."""
    parts = [p for p in loc if p not in ("body",)]
    # Tagged-union and type names pydantic adds to the path say nothing to a client.
    parts = [p for p in parts if not (isinstance(p, str) and ("[" in p or p in _UNION_TAGS))]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


_UNION_TAGS = {
    "str",
    "constrained-str",
    "list",
    "text",
    "image_url",
    "file",
    "function-after",
    "function-before",
}


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
        loc = first.get("loc", ())
        why = (first.get("ctx") or {}).get("error")
        at = f" at character {loc[-1]}" if len(loc) > 1 and isinstance(loc[-1], int) else ""
        return BadRequest(f"{_NOT_JSON} ({why}{at})" if why else _NOT_JSON)
    if field == "body" and kind == "value_error":
        return BadRequest(str(first.get("msg", "")).removeprefix("Value error, "))
    if field == "body" and kind in ("model_attributes_type", "dict_type", "model_type"):
        return BadRequest("request body must be a JSON object (Content-Type: application/json)")
    if kind == "missing":
        return RequiredFieldEmpty(f"{field} is required")
    if field == "relativity":
        return RelativityInvalid(f"relativity must be a number from 0 to 1: {first.get('msg', '')}")
    if (
        kind in ("string_too_short", "too_short")
        and (first.get("ctx") or {}).get("min_length") == 1
    ):
        return RequiredFieldEmpty(f"{field} must not be empty")
    if kind == "string_pattern_mismatch" and (first.get("ctx") or {}).get("pattern") == NOT_BLANK:
        return RequiredFieldEmpty(f"{field} must not be blank")
    if kind == "string_too_long" and tuple(first.get("loc", ()))[:1] == ("body",):
        error_type = _TOO_LONG.get(field, TooLong)
        return error_type(f"{field} is too long: {first.get('msg', '')}")
    if kind in ("union_tag_invalid", "literal_error", "enum"):
        return UnsupportedType(f"{field}: {first.get('msg', 'unsupported value')}")
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    # A validator's predicate ("is out of range: ...") reads as a sentence about the field.
    return BadRequest(f"{field} {message}" if message.startswith("is ") else f"{field}: {message}")


def _unparsable(cause: BaseException | None) -> BadRequest:
    """Why a body could not be parsed as JSON at all (FastAPI chains the parser's error)."""
    if isinstance(cause, RecursionError):
        return BadRequest(f"{_NOT_JSON}: it is nested too deeply")
    if isinstance(cause, UnicodeError):
        return BadRequest(f"{_NOT_JSON}: it is not valid UTF-8")
    if isinstance(cause, ValueError) and "digits" in str(cause):
        # Python refuses to read integers of more than 4,300 digits (sys.int_info).
        return BadRequest(f"{_NOT_JSON}: it holds a number with too many digits")
    return BadRequest(_NOT_JSON)


def install_error_handlers(app: FastAPI, max_body_bytes: int) -> None:
    @app.exception_handler(MemosError)
    async def _memos(_: Request, exc: MemosError) -> JSONResponse:
        return render(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return render(from_validation(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            error: MemosError = NotFound("no such endpoint")
        elif exc.status_code == 413:
            error = TooLong(
                f"request body larger than {max_body_bytes:,} bytes (MEMOS_LIMITS__MAX_BODY_BYTES)"
            )
        elif exc.status_code == 400 and exc.__cause__ is not None:
            error = _unparsable(exc.__cause__)
        elif exc.status_code == 405:
            # A mount (the console's static files) refuses its own 405s, unseen by the router:
            # files are read with GET and HEAD.
            allowed = allowed_methods(request) or (exc.headers or {}).get("Allow") or "GET, HEAD"
            error = BadRequest(f"{request.method} is not allowed here; use {allowed}")
            error.status = 405
            return render(error, {**(exc.headers or {}), "Allow": allowed})
        else:
            error = BadRequest(str(exc.detail))
            error.status = exc.status_code
        # Headers the exception carries are part of the answer.
        return render(error, exc.headers)

    # Postgres stopped or restarting shows up as any of these (see storage.database.unavailable):
    # a refused connection (OSError), a driver error saying the server is shutting down or
    # starting up, a connection dropped mid-statement or mid-commit, no pooled connection free
    # in time. Each is a 503 the client can retry, never a 500; so is a statement Postgres
    # cancelled at ``database.statement_timeout_s``.
    # SQLAlchemy's errors, and the driver's own from statements sent on it (storage.driver_sql).
    @app.exception_handler(DBAPIError)
    @app.exception_handler(PostgresError)
    @app.exception_handler(DriverDataError)  # a value the driver itself cannot encode
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if timed_out(exc):
            return database_slow(request)
        if _sqlstate(exc) == MODEL_RETIRED_STATE:
            # The trigger of migration 0009: a reindex elsewhere bound the database to another
            # model than this process's; it stops using its own from now on.
            runtime = getattr(request.app.state, "runtime", None)
            if runtime is not None:
                runtime.retire_model(None)
            return render(EmbeddingModelRetired(runtime.retired if runtime else None))
        if unavailable(exc):
            return database_away(request, exc)
        if isinstance(exc, (DataError, DriverDataError)) or _sqlstate(exc).startswith("22"):
            # A data exception (SQLSTATE class 22), or a value the driver could not encode for a
            # statement sent on it: validation should have caught it, but it is still the
            # client's value. asyncpg's server errors never arrive as SQLAlchemy's DataError.
            # The driver's message may quote the value: only its SQLSTATE goes to the log.
            log.warning(
                "value refused by the database during %s (SQLSTATE %s)",
                request.url.path,
                _sqlstate(exc) or type(getattr(exc, "orig", exc)).__name__,
            )
            return render(BadRequest("a value in the request cannot be stored"))
        log.exception("database error during %s", request.url.path)
        return render(write_failure(request.url.path))

    @app.exception_handler(PoolTimeout)
    async def _pool(request: Request, exc: PoolTimeout) -> JSONResponse:
        return database_away(request, exc)

    @app.exception_handler(OSError)
    async def _os(request: Request, exc: OSError) -> JSONResponse:
        return database_away(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if timed_out(exc):
            return database_slow(request)
        if unavailable(exc):
            return database_away(request, exc)
        log.exception("unexpected error during %s", request.url.path)
        return render(MemosError())


class AnsweredErrors:
    """Ends an exception once its 500 has been answered in full.

    Starlette's error middleware renders the 500 (through ``_unexpected`` above, which logs the
    traceback) and then raises the exception again for the server to log. uvicorn, seeing an
    exception after a response started, closes the connection without ``Connection: close``: a
    keep-alive client's next request on it fails with a reset. The answer is complete and the
    error logged, so nothing is left for the server to do. An exception before the answer is
    complete still reaches it: uvicorn answers 500 itself if nothing was sent, or cuts the
    connection mid-answer, all anyone can do then.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answered = False

        async def watched(message: Message) -> None:
            nonlocal answered
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                answered = True

        try:
            await self.app(scope, receive, watched)
        except Exception:
            if not answered:
                raise
