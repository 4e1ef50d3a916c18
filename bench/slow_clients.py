"""Slow and guessing clients against a service with the default limits: how long 200 connections
that stall their bodies are held (MEMOS_LIMITS__BODY_TIMEOUT_S, 30 s), and how many of 300
admin-key guesses sent at once are checked (MEMOS_LIMITS__FAILED_KEYS_BURST, 20).

    .venv/bin/python bench/slow_clients.py

The service runs in this process on a loopback port, on an embedded Postgres in a temporary folder.
"""

from __future__ import annotations

import http.client
import socket
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.service import ADMIN_KEY, ServiceThread, make_settings  # noqa: E402

STALLED = 200
GUESSES = 300
HEAD = (
    b"POST /api/openmem/v1/search/memory HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"
)


def stalled_bodies(port: int) -> None:
    """Each connection sends its headers and one byte of a 200-byte body, then nothing."""
    socks = []
    for _ in range(STALLED):
        sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        sock.sendall(HEAD)
        socks.append(sock)
    started = time.monotonic()
    statuses: dict[int, int] = {}
    closed = 0
    for sock in socks:
        response = http.client.HTTPResponse(sock)
        response.begin()
        response.read()
        statuses[response.status] = statuses.get(response.status, 0) + 1
        closed += sock.recv(1) == b""
        sock.close()
    held = time.monotonic() - started
    print(f"{STALLED} stalled bodies: answers {statuses}, {closed} closed by the server")
    print(f"  the last let go after {held:.1f} s")


def admin_guesses(port: int) -> None:
    def guess(n: int) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", "/admin/v1/projects", headers={"Authorization": f"Token g{n}"})
        status = connection.getresponse().status
        connection.close()
        return status

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(guess, range(GUESSES)))
    took = time.monotonic() - started
    print(
        f"{GUESSES} admin-key guesses in {took:.1f} s: {statuses.count(401)} checked (401), "
        f"{statuses.count(429)} refused unchecked (429)"
    )
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    other = {"Authorization": f"Token {ADMIN_KEY}", "X-Forwarded-For": "198.51.100.7"}
    connection.request("GET", "/admin/v1/projects", headers=other)
    print(f"  the admin key from another address meanwhile: {connection.getresponse().status}")


def main() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    folder = Path(tempfile.mkdtemp(prefix="slow-clients-"))
    postgres = pgserver.get_server(folder / "pg", cleanup_mode="delete")
    # Every limit at its default but the per-key rate, which guesses never reach anyway.
    settings = make_settings(postgres.get_uri(), folder / "data", limits={"rate_per_key": 0})
    service = ServiceThread(settings)
    service.start()
    try:
        stalled_bodies(service.port)
        admin_guesses(service.port)
    finally:
        service.stop()
        postgres.cleanup()


if __name__ == "__main__":
    main()
