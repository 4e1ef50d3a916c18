"""Listening for API key changes (``NOTIFY memos_api_keys``, migration 0024).

One connection per process, outside the pool, kept open with ``LISTEN``. The process is told
whether it is listening, so that what it keeps about keys (``services.key_cache``) is trusted only
while no change can be missed: on every connect (a change may have been missed while it was down)
and every notification, it forgets them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from memos_server.storage.database import Database

log = logging.getLogger(__name__)

CHANNEL = "memos_api_keys"
APPLICATION = "memos-server-keys"
# A network that drops the connection without closing it is noticed by a ping this often.
PING_INTERVAL_S = 10.0
RETRY_S = (0.5, 1.0, 2.0, 5.0)
_ADAPTER_OPTIONS = ("prepared_statement_cache_size", "prepared_statement_name_func")


async def listen_for_key_changes(
    database: Database,
    changed: Callable[[], None],
    listening: Callable[[bool], None],
    *,
    ping_interval_s: float = PING_INTERVAL_S,
) -> None:
    """Until cancelled: ``changed()`` at each notification, ``listening(True)`` once listening,
    ``listening(False)`` as soon as the connection is lost (then reconnect, backing off)."""
    _, connect_args = database.engine.dialect.create_connect_args(database.engine.url)
    # What SQLAlchemy's asyncpg adapter reads from the URL for itself, not for asyncpg.connect.
    for adapter_only in _ADAPTER_OPTIONS:
        connect_args.pop(adapter_only, None)
    params = {
        **connect_args,
        "timeout": database.connect_timeout_s,
        "server_settings": {"application_name": APPLICATION},
    }
    failures = 0
    while True:
        try:
            await _listen(params, changed, listening, ping_interval_s, again=failures > 0)
            # It listened, then lost the connection: warn again, whatever happened before.
            log.warning(
                "lost the connection listening for API key changes: each request looks its "
                "key up until it is back"
            )
            failures = 1
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if failures == 0:
                log.warning(
                    "not listening for API key changes (%s): each request looks its key up "
                    "until it is back",
                    type(error).__name__,
                )
            failures += 1
        await asyncio.sleep(RETRY_S[min(failures, len(RETRY_S) - 1)])


async def _listen(
    params: dict[str, Any],
    changed: Callable[[], None],
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
        await connection.add_listener(CHANNEL, lambda *_: changed())
        listening(True)
        if again:
            log.info("listening for API key changes again")
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
