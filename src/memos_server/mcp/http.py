"""``/mcp``: the MCP server over Streamable HTTP, inside the service.

Every request is authenticated before the SDK sees it, by ``api.deps.get_project`` itself: the
same key check (``Authorization: Token <key>`` or ``Bearer <key>``), the same wrong-key throttle
and the same per-key rate limit as any REST call. A missing or wrong key is answered 401 (the
MemOS envelope, with ``WWW-Authenticate``) and no tool runs. The caller's project goes to the
tools in the request's ASGI state, which a client cannot write.

Stateless, with JSON answers: no session lives in a process's memory, so ``serve --workers N``
can answer any request of a client in any process, and nothing is kept per client between
requests. DNS-rebinding protection (a check of ``Host``) is off: it guards servers that trust
the browser's origin, and this one trusts only the key each request carries.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from memos_server.api.deps import get_project, runtime_of
from memos_server.api.errors import render
from memos_server.errors import BadRequest, Unauthenticated
from memos_server.mcp.server import build_server
from memos_server.mcp.tools import Caller
from memos_server.settings import LimitSettings

MCP_PATH = "/mcp"
CALLER = "memos_mcp_caller"  # the key of the caller in the request's ASGI state
USER_HEADER = "x-memos-user-id"


async def caller_of(ctx: Context) -> Caller:
    request = ctx.request_context.request
    caller = request.scope.get("state", {}).get(CALLER) if isinstance(request, Request) else None
    if not isinstance(caller, Caller):  # only if the SDK were reached another way
        raise ToolError("not authenticated")
    return caller


def header_text(value: str | None) -> str | None:
    """A header's value as the UTF-8 it was sent in (Starlette reads header bytes as Latin-1,
    which turned "小王" into another user's id); blank: no value."""
    if value is None or not value.strip():
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise BadRequest(f"the {USER_HEADER} header is not valid UTF-8") from None


class McpEndpoint:
    """The ASGI app at ``/mcp``: the key gate, then the SDK's Streamable HTTP handler."""

    def __init__(self, limits: LimitSettings) -> None:
        server = build_server(caller_of)
        server.streamable_http_app(
            streamable_http_path="/",
            stateless_http=True,
            json_response=True,
            max_request_body_size=limits.max_body_bytes,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.sessions = server.session_manager

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The SDK's task group, for the app's lifespan."""
        async with self.sessions.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        runtime = runtime_of(request)
        try:
            project = await self._project(request)
        except Unauthenticated as refused:  # InvalidApiKey too; a 429 goes to the app's handler
            response = render(refused, {"WWW-Authenticate": 'Bearer realm="memos-server"'})
            await response(scope, receive, send)
            return
        try:
            user = header_text(request.headers.get(USER_HEADER))
        except BadRequest as refused:
            await render(refused)(scope, receive, send)
            return
        caller = Caller(runtime, project, default_user=user)
        state = {**scope.get("state", {}), CALLER: caller}
        await self.sessions.handle_request({**scope, "state": state}, receive, send)

    @staticmethod
    async def _project(request: Request) -> uuid.UUID:
        return await get_project(request, runtime_of(request), request.headers.get("authorization"))
