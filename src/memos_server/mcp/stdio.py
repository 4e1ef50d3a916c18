"""``memos-server mcp``: the same MCP server over stdio, for clients that start it as a process
(Claude Desktop, Cursor). It works on the database directly, like ``search`` and ``add``, with
the API key of one project (``MEMOS_API_KEY`` or ``--api-key``).

The key is checked at start (a wrong one ends the command with an error, before the client
sees any tool) and again on every tool call, as a request is: a revoked key stops working at
once, and each call spends one request of the key's rate limit.
"""

from __future__ import annotations

import uuid

from mcp.server.mcpserver import Context
from starlette.requests import Request

from memos_server.api.deps import get_project
from memos_server.mcp.answers import as_tool_errors
from memos_server.mcp.server import build_server
from memos_server.mcp.tools import Caller
from memos_server.runtime import Runtime

# A key check's request: this machine, with no address (its wrong keys count as one client's).
_LOCAL = Request({"type": "http", "method": "POST", "path": "/mcp", "headers": []})


async def _project(runtime: Runtime, key: str) -> uuid.UUID:
    return await get_project(_LOCAL, runtime, f"Token {key}")


async def serve_stdio(runtime: Runtime, key: str, default_user: str | None) -> None:
    await _project(runtime, key)

    async def caller_of(ctx: Context) -> Caller:
        with as_tool_errors():  # a key revoked since, or its rate limit spent
            project = await _project(runtime, key)
        return Caller(runtime, project, default_user=default_user)

    await build_server(caller_of).run_stdio_async()
