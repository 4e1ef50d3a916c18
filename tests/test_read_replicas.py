"""Reads on a real streaming replica, and the embedded Postgres's memory settings.

The primary is an embedded Postgres of this module's own (``storage.embedded``, started with
memory settings to read back); the replica is made from it with ``pg_basebackup -R`` and started
with ``pg_ctl`` on loopback (``tests.support.replica``). Which server answered a read is told by
what it can see: with the replica's replay paused, a memory stored through the primary is
found only by a read the primary answers.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from memos_server.settings.database import DatabaseSettings, PostgresSettings
from memos_server.storage.database import Database
from memos_server.storage.embedded import EmbeddedPostgres
from memos_server.storage.postgres_memory import memory_settings
from memos_server.storage.replicas import ReadReplicas, ReadRouter, RecentWrites
from tests.support.api import Api
from tests.support.database import fresh_database, new_api_key, sql
from tests.support.replica import StreamingReplica
from tests.support.service import ServiceThread, make_settings
from tests.support.waiting import wait_until

GiB = 1024**3
# How long a user's reads stay on the primary after a write: long enough for three reads on a
# busy machine, short enough to wait out.
WINDOW_S = 10.0
MEMORY = {"shared_buffers": "64MB", "effective_cache_size": "256MB", "work_mem": "8MB"}


@pytest.fixture(scope="module")
def primary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a fresh embedded Postgres, started with ``MEMORY``."""
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("primary"), MEMORY)
    url = embedded.start()
    yield url
    embedded.stop()


@pytest.fixture(scope="module")
def database(primary: str) -> str:
    return fresh_database(primary)


@pytest.fixture(scope="module")
def replica(
    primary: str, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StreamingReplica]:
    made = StreamingReplica(primary, tmp_path_factory.mktemp("standby") / "pgdata")
    made.create()
    made.start()
    yield made
    made.stop()


@pytest.fixture(scope="module")
def service(
    database: str, replica: StreamingReplica, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceThread]:
    name = _name(database)
    settings = make_settings(
        database,
        tmp_path_factory.mktemp("data"),
        database={
            "url": database,
            "read_urls": [replica.url(name)],
            "read_your_writes_s": WINDOW_S,
            "read_check_interval_s": 0.2,
            "read_retry_max_s": 0.5,
        },
    )
    running = ServiceThread(settings)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def api(service: ServiceThread, database: str, replica: StreamingReplica) -> Iterator[Api]:
    with Api(service.base_url, new_api_key(database)) as client:
        replica.catch_up(_name(database))  # the new key is on the replica too
        yield client


def _name(url: str) -> str:
    name = make_url(url).database
    assert name is not None
    return name


def _root(service: ServiceThread) -> str:
    return service.base_url.split("/api/", 1)[0]


def _replicas(service: ServiceThread) -> list[dict[str, Any]]:
    ready = httpx.get(f"{_root(service)}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    replicas: list[dict[str, Any]] = ready.json()["replicas"]
    return replicas


def _reads(service: ServiceThread, target: str) -> float:
    metrics = httpx.get(f"{_root(service)}/metrics", timeout=10).text
    found = re.search(rf'^memos_db_reads_total{{target="{target}"}} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


def _add(api: Api, user: str, text: str) -> None:
    api.ok(
        "/add/message",
        {
            "user_id": user,
            "conversation_id": f"{user}-c",
            "messages": [{"role": "user", "content": text}],
        },
    )


def _found(api: Api, user: str, query: str) -> list[str]:
    data = api.ok("/search/memory", {"user_id": user, "query": query, "relativity": 0})
    return [m["memory_value"] for m in data["memory_detail_list"]]


def _listed(api: Api, user: str) -> int:
    total: int = api.ok("/get/memory", {"user_id": user})["total"]
    return total


def _messages(api: Api, user: str) -> int:
    data = api.ok("/get/message", {"user_id": user, "conversation_id": f"{user}-c"})
    return len(data["message_detail_list"])


def _served_by_replica(api: Api, replica: StreamingReplica, database: str, user: str) -> None:
    """With replay paused, a memory added through the primary is found at once (the user's
    own write: the primary answers), not once the window has passed (the replica answers),
    and again once the replica has replayed it."""
    text = f"{user}：我在杭州养了一只叫豆豆的柯基，每天早上去西湖边散步"
    replica.pause(database)
    try:
        _add(api, user, text)
        added = time.monotonic()
        # Read-your-writes: straight after the add, its user reads from the primary.
        assert any("豆豆" in m for m in _found(api, user, "豆豆是什么狗"))
        assert (_listed(api, user), _messages(api, user)) == (1, 1)
        assert time.monotonic() - added < WINDOW_S, "the reads took longer than the window"
        time.sleep(max(0.0, added + WINDOW_S + 0.3 - time.monotonic()))
        # Past the window: the replica answers, and it has not replayed the add.
        assert _found(api, user, "豆豆是什么狗") == []
        assert (_listed(api, user), _messages(api, user)) == (0, 0)
    finally:
        replica.resume(database)
    replica.catch_up(database)
    assert any("豆豆" in m for m in _found(api, user, "豆豆是什么狗"))
    assert (_listed(api, user), _messages(api, user)) == (1, 1)


def test_embedded_postgres_starts_with_its_memory_settings(primary: str) -> None:
    shown = {
        name: sql(primary, f"SHOW {name}")[0][name]
        for name in ("shared_buffers", "effective_cache_size", "work_mem")
    }
    assert shown == MEMORY


def test_auto_memory_settings_follow_the_machine() -> None:
    auto = PostgresSettings()
    assert memory_settings(auto, 4 * GiB) == {
        "shared_buffers": "1024MB",
        "effective_cache_size": "2048MB",
        "work_mem": "10MB",
    }
    # Small machines keep Postgres' own defaults; large ones stop at the caps.
    assert memory_settings(auto, GiB // 2)["shared_buffers"] == "128MB"
    assert memory_settings(auto, GiB // 2)["work_mem"] == "4MB"
    assert memory_settings(auto, 256 * GiB)["shared_buffers"] == "4096MB"
    assert memory_settings(auto, 256 * GiB)["work_mem"] == "64MB"
    chosen = PostgresSettings(shared_buffers="2GB", work_mem="32MB")
    assert memory_settings(chosen, 4 * GiB)["shared_buffers"] == "2GB"


def test_recent_writes_are_per_user_and_expire() -> None:
    import uuid

    project, other = uuid.uuid4(), uuid.uuid4()
    recent = RecentWrites(0.3)
    recent.wrote(project, "小明")
    assert recent.recent(project, "小明")
    assert not recent.recent(project, "小红")  # another user of the project
    assert not recent.recent(other, "小明")  # the same name in another project
    assert recent.recent(project, None)  # a read across the project's users
    recent.wrote(other, None)  # a write that names no one user: all of that project's
    assert recent.recent(other, "小红")
    time.sleep(0.35)
    assert not recent.recent(project, "小明")
    assert not recent.recent(other, "小红")


def test_readyz_reports_the_replica(service: ServiceThread) -> None:
    [replica] = wait_until(
        lambda: [r for r in _replicas(service) if r["up"] and r["lag_bytes"] == 0] or None,
        30,
        "the replica to be up and caught up",
    )
    assert replica == {"replica": 1, "up": True, "lag_bytes": 0, "lag_s": 0.0}


def test_reads_go_to_the_replica_and_the_users_own_writes_to_the_primary(
    api: Api, service: ServiceThread, replica: StreamingReplica, database: str
) -> None:
    wait_until(lambda: _replicas(service)[0]["up"], 30, "the replica to be up")
    before = _reads(service, "replica")
    _served_by_replica(api, replica, _name(database), "用户甲")
    assert _reads(service, "replica") > before
    # The replica's own view: the service's read connections are there, by their name.
    on_replica = sql(
        replica.url(_name(database)),
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'memos-server-read'",
    )
    assert on_replica[0]["n"] >= 1


def test_a_profile_edit_is_read_back_from_the_primary(
    api: Api, service: ServiceThread, replica: StreamingReplica, database: str
) -> None:
    """Profile writes (bind, edit) keep their user's reads on the primary, as adds do."""
    wait_until(lambda: _replicas(service)[0]["up"], 30, "the replica to be up")
    tree = {"基本信息": {"所在城市": {"value": "", "algorithm_updatable": True}}}
    template = api.ok("/add/profile_template", {"name": "画像", "metadata": tree})[
        "profile_template_id"
    ]
    bound = {"bind_list": [{"user_id": "用户丙", "profile_template_id": template}]}
    edit = {
        "user_id": "用户丙",
        "profile_template_id": template,
        "metadata": {"基本信息": {"所在城市": {"value": "成都"}}},
    }
    replica.pause(_name(database))
    try:
        api.ok("/bind/profile_template", bound)
        api.ok("/edit/profile", edit)
        [profile] = api.ok("/get/memory", {"user_id": "用户丙"})["profile_detail_list"]
        assert profile["properties"]["基本信息"]["所在城市"]["value"] == "成都"
    finally:
        replica.resume(_name(database))


def test_a_stopped_replica_falls_back_to_the_primary_and_is_used_again_when_back(
    api: Api, service: ServiceThread, replica: StreamingReplica, database: str
) -> None:
    wait_until(lambda: _replicas(service)[0]["up"], 30, "the replica to be up")
    _add(api, "用户乙", "用户乙：下周三要去上海出差，记得订高铁票")
    replica.catch_up(_name(database))
    time.sleep(WINDOW_S + 0.3)
    replica.stop()
    try:
        primary_reads = _reads(service, "primary")
        # No error: the primary answers, with everything.
        assert any("上海" in m for m in _found(api, "用户乙", "出差去哪里"))
        assert (_listed(api, "用户乙"), _messages(api, "用户乙")) == (1, 1)
        assert _reads(service, "primary") >= primary_reads + 3
        [down] = _replicas(service)
        assert (down["up"], down["lag_bytes"]) == (False, None)
    finally:
        replica.start()
    wait_until(lambda: _replicas(service)[0]["up"], 30, "the replica to be back")
    _served_by_replica(api, replica, _name(database), "用户丙")


def test_a_busy_replica_sends_reads_to_the_primary_and_stays_up(
    database: str, replica: StreamingReplica
) -> None:
    """Every connection of the replica's pool in use for the pool's timeout: the read goes to
    the primary (it does not fail), and the replica is not marked down."""
    settings = DatabaseSettings(pool_size=1, max_overflow=0, pool_timeout_s=1)
    project = uuid.uuid4()
    standby = text("SELECT pg_is_in_recovery()")

    async def reads() -> tuple[bool, bool, float, bool, bool]:
        primary = Database(database, settings)
        replicas = ReadReplicas(primary, [replica.url(_name(database))], settings)
        [only] = replicas.replicas
        router = ReadRouter(primary, replicas, RecentWrites(0.0))
        try:
            await replicas.check(only, None)
            assert only.up
            async with router.session(project_id=project, user_id="甲") as first:
                on_replica = bool((await first.execute(standby)).scalar_one())
                started = time.monotonic()
                async with router.session(project_id=project, user_id="乙") as second:
                    second_on_replica = bool((await second.execute(standby)).scalar_one())
                waited = time.monotonic() - started
            async with router.session(project_id=project, user_id="丙") as third:
                again = bool((await third.execute(standby)).scalar_one())
            return on_replica, second_on_replica, waited, only.up, again
        finally:
            await replicas.dispose()
            await primary.dispose()

    on_replica, second_on_replica, waited, up, again = asyncio.run(reads())
    assert (on_replica, second_on_replica, up, again) == (True, False, True, True)
    assert 0.9 < waited < 10, f"the busy replica held the read {waited:.1f} s"
