"""What happens to a client's connection: it stays usable after a 500."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from tests.support import ServiceThread, make_settings


async def boom() -> None:
    raise RuntimeError("a bug")


@pytest.fixture(scope="module")
def edge(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceThread]:
    """A service with one route with a bug in it."""
    settings = make_settings(
        pg_url,
        tmp_path_factory.mktemp("edge-data"),
    )
    running = ServiceThread(settings)
    running.app.add_api_route("/boom", boom, methods=["GET", "POST"])
    running.start()
    yield running
    running.stop()


def address(service: ServiceThread) -> tuple[str, int]:
    return "127.0.0.1", service.port


def test_hardening_10_a_500_leaves_the_connection_usable(edge: ServiceThread) -> None:
    connection = http.client.HTTPConnection(*address(edge), timeout=10)
    try:
        connection.request("GET", "/boom")
        failed = connection.getresponse()
        assert failed.status == 500
        assert json.loads(failed.read()) == {
            "code": 50000,
            "message": "internal error",
            "data": None,
        }
        assert failed.getheader("connection") is None  # nothing says the connection ends
        sock = connection.sock
        # The same connection answers the next requests: a body the route never read included.
        connection.request("POST", "/boom", body=json.dumps({"内容": "中文"}).encode())
        again = connection.getresponse()
        assert again.status == 500
        again.read()
        connection.request("GET", "/healthz")
        healthy = connection.getresponse()
        assert healthy.status == 200
        healthy.read()
        assert connection.sock is sock, "the server closed the connection after a 500"
    finally:
        connection.close()
