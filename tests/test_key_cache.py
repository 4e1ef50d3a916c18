"""A key checked lately costs a request no database round trip (``services.key_cache``), and a
change to a key made anywhere (plain SQL here) reaches every listening process
(``storage.notifications``, migration 0024)."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import pytest

from memos_server.services.apikeys import Caller
from memos_server.services.key_cache import KeyCache
from memos_server.settings import DatabaseSettings
from memos_server.storage.database import Database
from memos_server.storage.notifications import APPLICATION, KEYS, listen
from tests.support.api import Api
from tests.support.database import new_api_key, table_locked
from tests.support.service import ServiceThread
from tests.support.waiting import wait_until

BODY = {"user_id": "u", "conversation_id": "c"}
CALLER = Caller(uuid.uuid4(), uuid.uuid4())
REVOKE = "UPDATE api_keys SET revoked_at = now() WHERE prefix = $1"


async def execute(pg_url: str, statement: str, *args: object) -> None:
    connection = await asyncpg.connect(pg_url)
    try:
        await connection.execute(statement, *args)
    finally:
        await connection.close()


def test_a_known_key_is_served_while_the_keys_table_is_locked(
    service: ServiceThread, pg_url: str
) -> None:
    key = new_api_key(pg_url)
    wait_until(lambda: service.runtime.keys.is_listening, timeout_s=10)

    with Api(service.base_url, key) as api:
        api.ok("/get/message", BODY)  # looked up once
        with table_locked(pg_url, "api_keys"):
            started = time.perf_counter()
            api.ok("/get/message", BODY)  # no statement on api_keys: not blocked
            took = time.perf_counter() - started
    assert took < 1.0, took


def test_a_key_revoked_in_plain_sql_is_refused(service: ServiceThread, pg_url: str) -> None:
    key = new_api_key(pg_url)
    wait_until(lambda: service.runtime.keys.is_listening, timeout_s=10)
    with Api(service.base_url, key) as api:
        api.ok("/get/message", BODY)
        api.ok("/get/message", BODY)
        asyncio.run(execute(pg_url, REVOKE, key[:10]))
        # The notification is sent with the commit; this process hears it within milliseconds.
        wait_until(lambda: api.post("/get/message", BODY).status_code == 401, timeout_s=2)


def test_the_listener_hears_changes_and_says_when_it_cannot(pg_url: str) -> None:
    key = new_api_key(pg_url)
    prefix = key[:10]
    events: list[str] = []

    # An option of SQLAlchemy's driver adapter in the URL is not handed to asyncpg.connect.
    adapter_option = ("&" if "?" in pg_url else "?") + "prepared_statement_cache_size=100"

    async def run() -> None:
        database = Database(pg_url + adapter_option, DatabaseSettings(pool_size=1, max_overflow=0))
        listener = asyncio.create_task(
            listen(
                database,
                {KEYS: lambda: events.append("changed")},
                lambda on: events.append("listening" if on else "deaf"),
            )
        )
        try:

            async def wait_for(event: str, count: int = 1) -> None:
                for _ in range(500):
                    if events.count(event) >= count:
                        return
                    await asyncio.sleep(0.01)
                raise AssertionError(f"no {event}: {events}")

            await wait_for("listening")
            # Writing the last-use time (once a minute per key) changes nothing kept: silent.
            used = "UPDATE api_keys SET last_used_at = now() WHERE prefix = $1"
            await execute(pg_url, used, prefix)
            await execute(pg_url, REVOKE, prefix)
            await wait_for("changed")
            assert events == ["listening", "changed"]
            # Its connection cut: it says so at once, then listens again.
            await execute(
                pg_url,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = $1",
                APPLICATION,
            )
            await wait_for("deaf")
            await wait_for("listening", 2)
            await execute(pg_url, "DELETE FROM api_keys WHERE prefix = $1", prefix)
            await wait_for("changed", 2)
        finally:
            listener.cancel()
            with pytest.raises(asyncio.CancelledError):
                await listener
            await database.dispose()

    asyncio.run(run())


def test_the_cache_trusts_nothing_while_deaf_or_after_a_change() -> None:
    cache = KeyCache()
    cache.keep("mk-a", CALLER, cache.generation)
    assert cache.get("mk-a") is None  # not listening: nothing kept
    cache.listening(True)
    cache.keep("mk-a", CALLER, cache.generation)
    assert cache.get("mk-a") == CALLER
    assert "mk-a" not in cache._keys  # only the digest is kept
    cache.changed()
    assert cache.get("mk-a") is None
    # A lookup that began before a change is not kept: it may have read the key before it.
    before = cache.generation
    cache.changed()
    cache.keep("mk-a", CALLER, before)
    assert cache.get("mk-a") is None
    cache.keep("mk-a", CALLER, cache.generation)
    cache.listening(False)
    assert cache.get("mk-a") is None


def test_the_cache_forgets_keys_after_their_time_and_beyond_its_size() -> None:
    cache = KeyCache(ttl_s=0.05, size=2)
    cache.listening(True)
    cache.keep("mk-a", CALLER, cache.generation)
    time.sleep(0.06)
    assert cache.get("mk-a") is None
    for secret in ("mk-a", "mk-b", "mk-c"):
        cache.keep(secret, CALLER, cache.generation)
    assert len(cache) == 2
    assert cache.get("mk-a") is None
    assert cache.get("mk-c") == CALLER
