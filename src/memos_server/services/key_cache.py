"""The API keys this process has checked, so that a request's key costs no database round trip.

Looking the key up cost each request about 1 ms of the service's CPU (a session, a statement,
an ORM object: measured alone, 0.98-1.35 ms) and a second wait for a pooled connection of the
primary, besides the one its own work waits for.

A key is kept only while no change to it can be missed. Every change that matters (revoked,
deleted with its project, rewritten: by this process, another, the CLI or plain SQL) notifies
``memos_api_keys`` as it commits (migration 0024), and this process listens
(``storage.notifications``): it forgets every key at each notification, and keeps none while it
is not listening. So a revoked key fails at its next request in every process, once the
notification has arrived (it is sent with the commit; another process hears it within
milliseconds).

- A lookup that started before a notification is not kept (``generation``): it may have read
  the key as it was before the change.
- A key is kept ``ttl_s`` (30 s) at most, so a key in use is looked up again twice a minute and
  its last-use time is still written about once a minute (``authenticate``).
- Only keys that checked out are kept (a wrong key is looked up every time, and counted against
  its client: ``failed_keys``); at most ``size`` of them, the oldest dropped first.
- Only the SHA-256 digest of a key is kept, as in the database.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from memos_server.services.apikeys import Caller, hash_key

TTL_S = 30.0
SIZE = 10_000


class KeyCache:
    def __init__(self, *, ttl_s: float = TTL_S, size: int = SIZE) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._keys: OrderedDict[str, tuple[Caller, float]] = OrderedDict()
        self._listening = False
        self._generation = 0

    @property
    def is_listening(self) -> bool:
        """Whether it hears every key change (else it keeps nothing)."""
        return self._listening

    @property
    def generation(self) -> int:
        """Taken before a lookup, handed to ``keep`` after it."""
        return self._generation

    def get(self, secret: str) -> Caller | None:
        """The caller of a key checked lately, if it is still trusted."""
        if not self._listening:
            return None
        digest = hash_key(secret)
        kept = self._keys.get(digest)
        if kept is None:
            return None
        caller, until = kept
        if time.monotonic() >= until:
            del self._keys[digest]
            return None
        return caller

    def keep(self, secret: str, caller: Caller, generation: int) -> None:
        """Keep a key just checked, unless a change arrived since its lookup began."""
        if not self._listening or generation != self._generation:
            return
        digest = hash_key(secret)
        self._keys[digest] = (caller, time.monotonic() + self.ttl_s)
        self._keys.move_to_end(digest)
        while len(self._keys) > self.size:
            self._keys.popitem(last=False)

    def changed(self) -> None:
        """A key changed somewhere: forget them all (changes are rare)."""
        self._keys.clear()
        self._generation += 1

    def listening(self, listening: bool) -> None:
        """Whether this process hears every change from now on; either way, what it knew may
        be stale."""
        self.changed()
        self._listening = listening

    def __len__(self) -> int:
        return len(self._keys)
