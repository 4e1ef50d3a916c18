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

from memos_server.errors import InputTokensRateLimited, RateLimited
from memos_server.settings import Settings


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

    def take(self, key_id: uuid.UUID, cost: float = 1.0) -> None:
        """Spend ``cost`` of this key's allowance, or raise ``RateLimited``. A cost above the
        burst needs the bucket full (it could never be paid otherwise) and empties it."""
        if not self.enabled:
            return
        cost = min(cost, float(self.burst))
        now = self.clock()
        bucket = self.buckets.get(key_id)
        if bucket is None:
            bucket = self.buckets[key_id] = Bucket(tokens=float(self.burst), updated=now)
        else:
            bucket.refill(now, self.rate, self.burst)
        if bucket.tokens < cost:
            raise self.refusal((cost - bucket.tokens) / self.rate)
        bucket.tokens -= cost

    def refusal(self, wait_s: float) -> RateLimited:
        return RateLimited(wait_s, f"{self.rate:g} requests/s, bursts of {self.burst}")


class InputTokenLimiter(RateLimiter):
    """The text a key may send a minute, in estimated tokens (``limits.input_tokens_per_minute``,
    the Cloud's 40309): the bucket holds a minute's worth and refills continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(per_minute / 60.0, per_minute, clock)
        self.per_minute = per_minute

    def refusal(self, wait_s: float) -> RateLimited:
        return InputTokensRateLimited(wait_s, self.per_minute)


def input_token_limiter_for(settings: Settings) -> InputTokenLimiter | None:
    per_minute = settings.limits.input_tokens_per_minute
    if per_minute <= 0:
        return None
    return InputTokenLimiter(max(1, per_minute // settings.server.workers))


def rate_limiter_for(settings: Settings) -> RateLimiter | None:
    limits = settings.limits
    if limits.rate_per_key <= 0:
        return None
    # Each of ``serve --workers N`` processes allows its share of the key's rate.
    workers = settings.server.workers
    return RateLimiter(limits.rate_per_key / workers, max(1, limits.rate_burst // workers))
