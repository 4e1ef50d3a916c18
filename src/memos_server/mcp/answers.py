"""How a tool answers: its result (a few lines for the model, the REST answer's ``data`` as
structured content) and the API's refusals as tool errors, worded as the API words them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, ValidationError

from memos_server.api.errors import from_validation
from memos_server.errors import MemosError
from memos_server.mcp.tools import Caller

Resolve = Callable[[Context], Awaitable[Caller]]  # who calls: from a tool call's context


@contextmanager
def as_tool_errors() -> Iterator[None]:
    """The API's refusals, worded as the API words them, as tool errors the model can read."""
    try:
        yield
    except ValidationError as invalid:
        error = from_validation([{**e, "loc": ("body", *e["loc"])} for e in invalid.errors()])
        raise ToolError(f"{error.message} (code {error.code})") from None
    except MemosError as error:
        raise ToolError(f"{error.message} (code {error.code})") from None


def answer(words: str, data: BaseModel) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=words)],
        structured_content=data.model_dump(mode="json"),
    )
