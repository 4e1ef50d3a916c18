"""Refuse request bodies over ``limits.max_body_bytes`` (413, MemOS 40305) before reading them.

A declared ``Content-Length`` over the limit is answered at once; a body without one (chunked) is
counted as it streams in and refused when it passes the limit, so no oversized body is ever held
in memory.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memos_server.api.errors import render
from memos_server.errors import TooLong


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await render(self.error())(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI re-raises an HTTPException met while reading the body; the error
                    # handlers render 413 as 40305.
                    raise HTTPException(status_code=413)
            return message

        await self.app(scope, counted, send)

    def error(self) -> TooLong:
        return TooLong(
            f"request body larger than {self.max_bytes:,} bytes (MEMOS_LIMITS__MAX_BODY_BYTES)"
        )
