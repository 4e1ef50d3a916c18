"""Where a request's transaction ends (``api.transaction``): what a route wrote is committed when
it returns, before the answer is sent, so a commit that fails is the request's error (503 when
the database is away), never a success whose data is lost; a route that fails keeps nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from memos_server.api.deps import SessionDep
from memos_server.errors import BadRequest
from tests.support.service import ServiceThread

PROBE = "CREATE TABLE IF NOT EXISTS transaction_edge_probe (value text)"


async def write(value: str, session: SessionDep) -> dict[str, bool]:
    await session.execute(text(PROBE))
    await session.execute(text("INSERT INTO transaction_edge_probe VALUES (:v)"), {"v": value})
    return {"answered": True}


async def write_then_fail(value: str, session: SessionDep) -> dict[str, bool]:
    await write(value, session)
    raise BadRequest("the route failed after writing")


async def write_then_lose_the_database(value: str, session: SessionDep) -> dict[str, bool]:
    def away(_: Session) -> None:
        raise ConnectionRefusedError("the database went away at the commit")

    event.listen(session.sync_session, "before_commit", away)
    return await write(value, session)


async def read(session: SessionDep) -> list[str]:
    await session.execute(text(PROBE))
    rows = await session.execute(text("SELECT value FROM transaction_edge_probe"))
    return [row[0] for row in rows]


@pytest.fixture(scope="module")
def edge(service: ServiceThread) -> ServiceThread:
    for route in (write, write_then_fail, write_then_lose_the_database, read):
        path = f"/transaction-edge/{route.__name__}"
        service.app.add_api_route(path, route, methods=["POST"], include_in_schema=False)
    return service


def call(service: ServiceThread, name: str, **params: str) -> httpx.Response:
    url = f"http://127.0.0.1:{service.port}/transaction-edge/{name}"
    return httpx.post(url, params=params, timeout=30)


def test_success_is_answered_once_committed_and_a_failure_keeps_nothing(
    edge: ServiceThread,
) -> None:
    assert call(edge, "write", value="kept").status_code == 200
    assert call(edge, "write_then_fail", value="rolled back").status_code == 400
    assert call(edge, "read").json() == ["kept"]


def test_a_commit_that_fails_is_the_requests_error(edge: ServiceThread) -> None:
    answer = call(edge, "write_then_lose_the_database", value="lost")
    body: dict[str, Any] = answer.json()
    assert (answer.status_code, body["code"]) == (503, 50004)
    assert "lost" not in call(edge, "read").json()
