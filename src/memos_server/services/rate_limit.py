"""A per-key rate limit: a token bucket for each API key, kept in the process's memory.

Each key may make ``rate`` requests a second on average and ``burst`` at once. The buckets live in
this process only: with ``serve --workers N`` each process allows its share, ``rate / N``, since
the kernel spreads connections over the processes. A restart forgets them, which only ever errs
on the side of letting requests through.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from memos_server.errors import RateLimited


@dataclass
class Bucket:
    tokens: float
    updated: float

    def refill(self, now: float, rate: float, burst: int) -> None:
        """What ``rate`` a second has added since the last look, never more than ``burst``."""
        self.tokens = min(burst, self.tokens + (now - self.updated) * rate)
        self.updated = now


class RateLimiter:
    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.clock = clock
        self.buckets: dict[uuid.UUID, Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key_id: uuid.UUID) -> None:
        """Spend one request of this key's allowance, or raise ``RateLimited``."""
        if not self.enabled:
            return
        now = self.clock()
        bucket = self.buckets.get(key_id)
        if bucket is None:
            bucket = self.buckets[key_id] = Bucket(tokens=float(self.burst), updated=now)
        else:
            bucket.refill(now, self.rate, self.burst)
        if bucket.tokens < 1:
            wait = (1 - bucket.tokens) / self.rate
            raise RateLimited(wait, f"{self.rate:g} requests/s, bursts of {self.burst}")
        bucket.tokens -= 1
