"""A throttle on wrong keys: each client may send ``burst`` wrong API or admin keys at once, then
``per_minute``; past that, every request of that client that needs a key gets 429 with
``Retry-After`` until its allowance grows back.

Only wrong keys spend the allowance: a client whose keys are right is never slowed by it. But once
a client has spent it, its requests are refused before their key is looked at, right keys too:
checking them would tell a guesser which guess is right, the one thing the throttle is there to
slow down (GitHub's API does the same). The allowance is checked before a key is looked up and
spent when the lookup fails, so a client with many requests in flight when it runs out has them
all checked; it then owes each, and waits for the allowance to pay them back before its next try.

A client is its IP address, as uvicorn reports it: behind a reverse proxy, that is the proxy's
unless uvicorn trusts the proxy's ``X-Forwarded-For`` (``MEMOS_SERVER__FORWARDED_ALLOW_IPS``), and
then every client behind it shares one allowance. An IPv6 client is its /64, the block one
subscriber is given, so that a guesser cannot take a fresh allowance from each address of it.

Kept in the process's memory like the rate limit: ``serve --workers N`` gives each process its
share. Clients whose allowance is whole again are forgotten, and at most ``MAX_CLIENTS`` are kept.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable

from memos_server.errors import TooManyFailedKeys
from memos_server.services.rate_limit import Bucket
from memos_server.settings import Settings

MAX_CLIENTS = 100_000


def client_of(host: str | None) -> str:
    """The address a client's allowance is kept under: its IPv4 address, or its IPv6 /64."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class FailedKeyThrottle:
    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60
        self.burst = max(1, burst)
        self.clock = clock
        self.clients: dict[str, Bucket] = {}

    def check(self, client: str) -> None:
        """Raise ``TooManyFailedKeys`` if this client has no wrong key left to send."""
        bucket = self.clients.get(client)
        if bucket is None:
            return
        bucket.refill(self.clock(), self.rate, self.burst)
        if bucket.tokens >= self.burst:
            del self.clients[client]  # whole again: nothing to remember
        elif bucket.tokens < 1:
            raise TooManyFailedKeys((1 - bucket.tokens) / self.rate)

    def failed(self, client: str) -> None:
        """This client sent a wrong key: spend one of its allowance."""
        now = self.clock()
        bucket = self.clients.get(client)
        if bucket is None:
            if len(self.clients) >= MAX_CLIENTS:
                self.forget(now)
            bucket = self.clients[client] = Bucket(tokens=float(self.burst), updated=now)
        else:
            bucket.refill(now, self.rate, self.burst)
        bucket.tokens -= 1

    def forget(self, now: float) -> None:
        """Make room: drop clients whose allowance is whole again, else the oldest half."""
        for client, bucket in list(self.clients.items()):
            bucket.refill(now, self.rate, self.burst)
            if bucket.tokens >= self.burst:
                del self.clients[client]
        if len(self.clients) >= MAX_CLIENTS:
            for client in list(self.clients)[: MAX_CLIENTS // 2]:
                del self.clients[client]


def failed_key_throttle_for(settings: Settings) -> FailedKeyThrottle | None:
    limits = settings.limits
    if limits.failed_keys_per_minute <= 0:
        return None
    # Like the rate limit: each of ``serve --workers N`` processes allows its share.
    workers = settings.server.workers
    return FailedKeyThrottle(
        limits.failed_keys_per_minute / workers, max(1, limits.failed_keys_burst // workers)
    )
