"""The wrong-key throttle: a client that sends too many wrong API or admin keys gets 429 with
Retry-After, right keys included; every other client, and right keys before that, never notice.

Clients are told apart the way uvicorn tells them apart behind a proxy it trusts (loopback, by
default): by ``X-Forwarded-For``.
"""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from memos_server.errors import TooManyFailedKeys
from memos_server.services.failed_keys import FailedKeyThrottle, client_of, failed_key_throttle_for
from tests.support.api import Api
from tests.support.service import ADMIN_KEY, ServiceThread, make_settings

BURST = 5
PER_MINUTE = 30.0  # one wrong key back every 2 s
GET = {"user_id": "guard-user", "conversation_id": "guard-conv"}
SEARCH = {"user_id": "guard-user", "query": "我喜欢七天酒店"}


@pytest.fixture
def clock(service: ServiceThread, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The service's throttle, on a clock the test moves: a loaded machine's slowness is not
    mistaken for the allowance coming back."""
    now = [0.0]
    throttle = FailedKeyThrottle(PER_MINUTE, BURST, clock=lambda: now[0])
    monkeypatch.setattr(service.runtime, "failed_keys", throttle)
    return now


def client(service: ServiceThread, key: str | None, address: str | None) -> Api:
    api = Api(service.base_url, key)
    if address is not None:
        api.http.headers["X-Forwarded-For"] = address
    return api


def admin_client(service: ServiceThread, key: str, address: str | None) -> Api:
    api = Api(service.base_url.removesuffix("/api/openmem/v1") + "/admin/v1", key)
    if address is not None:
        api.http.headers["X-Forwarded-For"] = address
    return api


def refused(response: httpx.Response) -> int:
    """Assert the throttle's 429; the seconds of its Retry-After."""
    message = Api.error_of(response, 429, 40300)
    assert "too many wrong API keys" in message
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= 60 / PER_MINUTE
    return seconds


def test_hardening_11_wrong_keys_are_throttled_per_client(
    service: ServiceThread, api_key: str, clock: list[float]
) -> None:
    attacker = "203.0.113.7"
    with (
        client(service, "mk-guessed-wrong", attacker) as guesser,
        client(service, api_key, attacker) as right_key_same_address,
        admin_client(service, "admin-guess", attacker) as admin_guesser,
        client(service, api_key, "198.51.100.7") as neighbour,
        client(service, api_key, None) as local,
        admin_client(service, ADMIN_KEY, "198.51.100.8") as admin,
    ):
        for _ in range(BURST):
            guesser.fails("/get/message", GET, 401, 40132)
        wait = refused(guesser.post("/search/memory", SEARCH))
        # Once spent, nothing from that address is checked: a right key would be a right guess.
        refused(right_key_same_address.post("/get/message", GET))
        refused(admin_guesser.get("/projects"))
        # Other clients, and the admin, never notice.
        neighbour.ok("/search/memory", SEARCH)
        local.ok("/get/message", GET)
        admin.data_of(admin.get("/projects"))

        clock[0] += wait
        right_key_same_address.ok("/get/message", GET)  # a right key spends nothing
        guesser.fails("/get/message", GET, 401, 40132)
        refused(guesser.post("/get/message", GET))


@pytest.mark.usefixtures("clock")
def test_hardening_11_admin_key_guesses_sent_at_once_are_held_to_the_burst(
    service: ServiceThread,
) -> None:
    guesses = [f"admin-guess-{n}" for n in range(60)]

    def guess(key: str) -> int:
        with admin_client(service, key, "192.0.2.44") as admin:
            return admin.get("/projects").status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(guess, guesses))
    # Checked and counted in one step of the event loop: no guess slips past the count.
    assert statuses.count(401) == BURST, statuses
    assert statuses.count(429) == len(guesses) - statuses.count(401)
    with admin_client(service, ADMIN_KEY, "192.0.2.45") as admin:
        admin.data_of(admin.get("/projects"))


@pytest.mark.usefixtures("clock")
def test_hardening_11_right_keys_never_spend_the_allowance(
    service: ServiceThread, api_key: str
) -> None:
    address = "192.0.2.55"
    with (
        client(service, api_key, address) as right,
        admin_client(service, ADMIN_KEY, address) as admin,
        client(service, "mk-typo", address) as wrong,
        client(service, None, address) as keyless,
    ):
        for _ in range(3 * BURST):
            right.ok("/get/message", GET)
            admin.data_of(admin.get("/projects"))
            keyless.fails("/get/message", GET, 401, 40100)  # no key: nothing guessed
        for _ in range(BURST):
            wrong.fails("/get/message", GET, 401, 40132)
        refused(wrong.post("/get/message", GET))


def test_the_allowance_comes_back_at_its_rate() -> None:
    now = [0.0]
    throttle = FailedKeyThrottle(per_minute=60, burst=2, clock=lambda: now[0])
    throttle.check("a")
    throttle.failed("a")
    throttle.failed("a")
    with pytest.raises(TooManyFailedKeys, match="retry after 1 s") as spent:
        throttle.check("a")
    assert spent.value.retry_after_s == 1
    throttle.check("b")  # another client's allowance is its own
    now[0] += 1
    throttle.check("a")
    # Failures of requests already in flight when it ran out are owed, and paid back first.
    throttle.failed("a")
    throttle.failed("a")
    throttle.failed("a")
    with pytest.raises(TooManyFailedKeys, match="retry after 3 s"):
        throttle.check("a")
    now[0] += 600  # never more than the burst saved up, and then forgotten
    throttle.check("a")
    assert throttle.clients == {}


def test_an_ipv6_client_is_its_64() -> None:
    assert client_of("2001:db8:1:2:aaaa::1") == client_of("2001:db8:1:2:bbbb::9")
    assert client_of("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_of("2001:db8:1:3::1") != client_of("2001:db8:1:2::1")
    assert client_of("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_of("192.0.2.1") == "192.0.2.1"
    assert client_of(None) == "unknown"


def test_the_default_allowance_is_shared_by_worker_processes(tmp_path: Path) -> None:
    one = failed_key_throttle_for(make_settings("postgresql://x", tmp_path, limits={}))
    assert one is not None
    assert (one.rate * 60, one.burst) == (10, 20)
    two = failed_key_throttle_for(
        make_settings("postgresql://x", tmp_path, limits={}, server={"workers": 2})
    )
    assert two is not None
    assert (two.rate * 60, two.burst) == (5, 10)
    assert failed_key_throttle_for(make_settings("postgresql://x", tmp_path)) is None  # tests


def _answer_to_headers_alone(service: ServiceThread, headers: dict[str, str]) -> tuple[int, str]:
    """Send a search's headers declaring a 9 MB body, and none of the body: the answer that
    comes back anyway (status, body), or a timeout if the service waits for the body."""
    url = httpx.URL(service.base_url)
    lines = [
        f"POST {url.path}/search/memory HTTP/1.1",
        f"Host: {url.host}:{url.port}",
        "Content-Type: application/json",
        "Content-Length: 9000000",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    with socket.create_connection((url.host, url.port), timeout=5) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def test_no_key_or_a_throttled_client_is_answered_before_the_body(
    service: ServiceThread, clock: list[float]
) -> None:
    """Answers that depend on the headers alone do not wait for (or parse) a body."""
    status, body = _answer_to_headers_alone(service, {})
    assert (status, json.loads(body)["code"]) == (401, 40100)
    status, body = _answer_to_headers_alone(service, {"Authorization": "Basic abc"})
    assert (status, json.loads(body)["code"]) == (401, 40100)
    attacker = "203.0.113.99"
    with client(service, "mk-guessed-wrong", attacker) as guesser:
        for _ in range(BURST):
            guesser.fails("/get/message", GET, 401, 40132)
    status, body = _answer_to_headers_alone(
        service, {"Authorization": "Token mk-another-guess", "X-Forwarded-For": attacker}
    )
    assert (status, json.loads(body)["code"]) == (429, 40300)
