"""ping: the MemOS API answers, in its envelope."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from memos_server import __version__
from memos_server.api.schemas.common import Envelope

router = APIRouter(tags=["health"])


class Pong(BaseModel):
    status: str = "ok"
    version: str = __version__


@router.get(
    "/ping", response_model=Envelope[Pong], summary="Check the API answers", operation_id="ping"
)
async def ping() -> Envelope[Pong]:
    """The API is up: `{"code": 0, "message": "ok", "data": {"status": "ok", "version"}}`, no
    key needed (for a client checking its base URL; `/readyz` checks the database and model)."""
    return Envelope(data=Pong())
