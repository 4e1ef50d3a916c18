"""Every request body is read here, whole, before the app sees it, and refused if it is larger than
``limits.max_body_bytes`` (413, MemOS 40305) or slower than ``limits.body_timeout_s`` (408).

A declared ``Content-Length`` over the limit is answered at once; a body without one (chunked) is
counted as it streams in and refused when it passes the limit, so no oversized body is ever held
in memory.

``larger`` gives some paths a limit of their own: a knowledge-base upload carries documents as
base64 (4/3 of their size), bounded by ``knowledge.max_file_bytes`` rather than the JSON limit.

``streamed`` names paths whose bodies are not read here but passed on as they arrive (an export
file sent to the admin import, gigabytes perhaps): their bytes are counted on the way, and past
their own limit the route's next read raises ``TooLong`` (413); each piece must arrive within
``timeout_s`` of the one before.

The time limit counts from the request's headers to the body's last byte. uvicorn has none: a
client that sends its headers and then trickles the body, or stops, held a connection and its
request for as long as it liked. The body is read here rather than when a route asks for it so
that the limit holds for every request: a route that never reads its body (a GET sent one, an
unknown path) would leave it to the server, which drains it at the client's pace. A late body is
answered 408 with ``Connection: close``: the rest of it is never read. FastAPI reads a JSON body
whole before the route runs anyway, so reading it here first holds nothing more in memory.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memos_server.api.errors import render
from memos_server.errors import BodyTimeout, TooLong


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        timeout_s: float,
        larger: Mapping[str, int] | None = None,
        streamed: tuple[re.Pattern[str], int] | None = None,
    ) -> None:
        self.app = app
        self.streamed = streamed
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.streamed is not None and self.streamed[0].fullmatch(scope["path"]):
            await self.passed_on(scope, receive, send, self.streamed[1])
            return
        limit = self.larger.get(scope["path"], self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await render(self.too_large(limit))(scope, receive, send)
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                first = await self.read(receive, limit)
        except _TooLarge:
            await render(self.too_large(limit))(scope, receive, send)
            return
        except TimeoutError:
            late = BodyTimeout(
                f"request body not received within {self.timeout_s:g} s "
                "(MEMOS_LIMITS__BODY_TIMEOUT_S)"
            )
            await render(late, {"Connection": "close"})(scope, receive, send)
            return
        if first["type"] == "http.disconnect":
            return  # the client left before its body was in: there is no one to answer

        pending: Message | None = first

        async def replay() -> Message:
            # The whole body first; after it, what the server says next (a disconnect).
            nonlocal pending
            if pending is not None:
                message, pending = pending, None
                return message
            return await receive()

        await self.app(scope, replay, send)

    async def passed_on(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await render(self.too_large(limit, "MEMOS_LIMITS__IMPORT_MAX_BYTES"))(
                scope, receive, send
            )
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            try:
                async with asyncio.timeout(self.timeout_s):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(
                    f"no part of the request body within {self.timeout_s:g} s "
                    "(MEMOS_LIMITS__BODY_TIMEOUT_S)"
                ) from None
            received += len(message.get("body", b""))
            if received > limit:
                raise self.too_large(limit, "MEMOS_LIMITS__IMPORT_MAX_BYTES")
            return message

        await self.app(scope, counted, send)

    async def read(self, receive: Receive, limit: int) -> Message:
        """The whole body as one message, or the disconnect that came before its end."""
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    def too_large(self, limit: int, setting: str | None = None) -> TooLong:
        setting = setting or (
            "MEMOS_LIMITS__MAX_BODY_BYTES"
            if limit == self.max_bytes
            else "MEMOS_KNOWLEDGE__MAX_FILE_BYTES, as base64"
        )
        return TooLong(f"request body larger than {limit:,} bytes ({setting})")
