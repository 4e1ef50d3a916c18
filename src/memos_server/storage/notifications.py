"""Hearing what other processes change: one connection per process, outside the pool, kept open
with ``LISTEN`` on every channel the process needs. Each channel is sent by triggers as the change
commits, whoever made it (this process, another, the CLI, plain SQL):

- ``memos_api_keys`` (migration 0024): a key revoked, deleted or rewritten; the process forgets the
  keys it keeps (``services.key_cache``).
- ``memos_jobs`` (migration 0025): a job may be claimable now; the worker looks at once
  (``services.jobs.worker``).

The process is told whether it is listening, so that what relies on hearing every change does so
only while none can be missed: on every connect (a change may have been missed while it was
down) and every notification, the key cache forgets its keys; while deaf, the worker looks for
jobs every ``poll_interval_s`` as it did before it could hear them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg

from memos_server.storage.database import Database

log = logging.getLogger(__name__)

KEYS = "memos_api_keys"
JOBS = "memos_jobs"
APPLICATION = "memos-server-listen"
# A network that drops the connection without closing it is noticed by a ping this often.
PING_INTERVAL_S = 10.0
RETRY_S = (0.5, 1.0, 2.0, 5.0)
_ADAPTER_OPTIONS = ("prepared_statement_cache_size", "prepared_statement_name_func")


async def listen(
    database: Database,
    channels: Mapping[str, Callable[[], None]],
    listening: Callable[[bool], None],
    *,
    ping_interval_s: float = PING_INTERVAL_S,
) -> None:
    """Until cancelled: ``channels[name]()`` at each notification on ``name``,
    ``listening(True)`` once listening on all of them, ``listening(False)`` as soon as the
    connection is lost (then reconnect, backing off)."""
    _, connect_args = database.engine.dialect.create_connect_args(database.engine.url)
    # What SQLAlchemy's asyncpg adapter reads from the URL for itself, not for asyncpg.connect.
    for adapter_only in _ADAPTER_OPTIONS:
        connect_args.pop(adapter_only, None)
    params = {
        **connect_args,
        "timeout": database.connect_timeout_s,
        "server_settings": {"application_name": APPLICATION},
    }
    what, meanwhile = _deaf(channels)
    failures = 0
    while True:
        try:
            await _listen(params, channels, listening, ping_interval_s, again=failures > 0)
            # It listened, then lost the connection: warn again, whatever happened before.
            log.warning(
                "lost the connection listening for %s: %s until it is back", what, meanwhile
            )
            failures = 1
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if failures == 0:
                log.warning(
                    "not listening for %s (%s): %s until it is back",
                    what,
                    type(error).__name__,
                    meanwhile,
                )
            failures += 1
        await asyncio.sleep(RETRY_S[min(failures, len(RETRY_S) - 1)])


async def _listen(
    params: dict[str, Any],
    channels: Mapping[str, Callable[[], None]],
    listening: Callable[[bool], None],
    ping_interval_s: float,
    *,
    again: bool,
) -> None:
    """Listen on one connection until it is lost (returns); raises if it never listened."""
    connection = await asyncpg.connect(**params)
    try:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        for channel, heard in channels.items():
            await connection.add_listener(channel, _callback(heard))
        listening(True)
        if again:
            log.info("listening for %s again", " and ".join(channels))
        # Lost: the server closed it, or a ping failed.
        with contextlib.suppress(Exception):
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), ping_interval_s)
                if not lost.is_set():
                    await connection.fetchval("SELECT 1", timeout=ping_interval_s)
    finally:
        listening(False)
        connection.terminate()


def _callback(heard: Callable[[], None]) -> Callable[..., None]:
    return lambda *_: heard()


# What each channel is, and what the process does while it cannot hear it.
_MEANING = {
    KEYS: ("API key changes", "each request looks its key up"),
    JOBS: ("queued jobs", "the worker looks for jobs every poll_interval_s"),
}


def _deaf(channels: Mapping[str, object]) -> tuple[str, str]:
    """(what it listens for, what happens meanwhile) for a log line."""
    meanings = [_MEANING.get(channel, (channel, "")) for channel in channels]
    return (
        " and ".join(what for what, _ in meanings),
        "; ".join(meanwhile for _, meanwhile in meanings if meanwhile),
    )
