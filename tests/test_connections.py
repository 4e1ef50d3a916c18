"""What happens to a client's connection: it stays usable after a 500, and a client too slow to
send its body is answered 408 and let go, while everyone else is served as usual."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.support.api import Api
from tests.support.database import new_api_key
from tests.support.service import ServiceThread, make_settings

BODY_TIMEOUT_S = 3.0
SEARCH = {"user_id": "conn-user", "query": "七天酒店"}


async def boom() -> None:
    raise RuntimeError("a bug")


@pytest.fixture(scope="module")
def edge(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceThread]:
    """A service with a short body timeout, and one route with a bug in it."""
    settings = make_settings(
        pg_url,
        tmp_path_factory.mktemp("edge-data"),
        limits={"rate_per_key": 0, "failed_keys_per_minute": 0, "body_timeout_s": BODY_TIMEOUT_S},
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


def slow_request(service: ServiceThread, path: str, key: str, declared: int) -> socket.socket:
    """A connection that has sent a request's headers and the first byte of its body."""
    sock = socket.create_connection(address(service), timeout=10)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n{{"
    )
    sock.sendall(head.encode())
    return sock


def answer_of(sock: socket.socket) -> tuple[int, dict[str, str], bytes, bool]:
    """Status, headers, body of the answer; and whether the server then closed the connection."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = response.read()
    headers = {name.lower(): value for name, value in response.getheaders()}
    sock.settimeout(5)
    try:
        closed = sock.recv(1) == b""
    except ConnectionResetError:
        closed = True  # closed, and a byte still trickling in after that was answered with RST
    return response.status, headers, body, closed


def test_hardening_11_a_slow_body_gets_408_while_others_are_served(
    edge: ServiceThread, pg_url: str
) -> None:
    key = new_api_key(pg_url)
    search_path = urlsplit(edge.base_url).path + "/search/memory"
    stalled = [slow_request(edge, search_path, key, 200) for _ in range(40)]
    # Paths whose route never reads a body (or that have no route) are held to it too.
    stalled += [slow_request(edge, path, key, 200) for path in ("/healthz", "/nowhere")]
    trickling = [slow_request(edge, search_path, key, 10_000) for _ in range(20)]
    started = time.monotonic()
    stop = threading.Event()

    def trickle() -> None:  # a byte every 50 ms: never stalls, never ends in time
        while not stop.wait(0.05):
            for sock in trickling:
                with contextlib.suppress(OSError):  # answered and closed already
                    sock.send(b" ")

    dripping = threading.Thread(target=trickle, daemon=True)
    dripping.start()
    try:
        served = []
        with Api(edge.base_url, key) as api:
            while time.monotonic() - started < BODY_TIMEOUT_S * 0.6:
                api.ok("/search/memory", SEARCH)
                served.append(time.monotonic() - started)
        # Served while every slow connection was still held, not after they were let go.
        assert served[0] < BODY_TIMEOUT_S * 0.9, served
        for sock in stalled + trickling:
            status, headers, body, closed = answer_of(sock)
            assert status == 408
            envelope = json.loads(body)
            assert (envelope["code"], envelope["data"]) == (40000, None)
            assert "MEMOS_LIMITS__BODY_TIMEOUT_S" in envelope["message"]
            assert headers["connection"] == "close"
            assert closed
        held = time.monotonic() - started
        assert BODY_TIMEOUT_S * 0.9 <= held < BODY_TIMEOUT_S + 3, held
    finally:
        stop.set()
        dripping.join()
        for sock in stalled + trickling:
            sock.close()
    # A body that arrives in time, in pieces, is read as usual.
    sock = socket.create_connection(address(edge), timeout=10)
    body = json.dumps(SEARCH, ensure_ascii=False).encode()
    sock.sendall(
        f"POST {search_path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    )
    for piece in (body[:5], body[5:20], body[20:]):
        time.sleep(BODY_TIMEOUT_S / 5)
        sock.sendall(piece)
    response = http.client.HTTPResponse(sock)
    response.begin()
    assert response.status == 200
    assert json.loads(response.read())["code"] == 0
    sock.close()
