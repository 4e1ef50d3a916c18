"""Retention: memories that expire (an add's info.expires_at / info.ttl_seconds, a project's
TTL, the service's default), never returned once expired by any read path, then purged by the
sweep in batches with a deletion record that holds no content."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent
from sqlalchemy import event, text

from memos_server.services.forget import subject_digest
from memos_server.services.retention import SWEEP_LOCK, SweepReport, add_expiry, sweep
from memos_server.settings import DatabaseSettings, RetentionSettings
from memos_server.storage.database import Database
from memos_server.storage.repositories.memories import MemoryRepository
from memos_server.storage.repositories.memory_scopes import HnswScan, Scope
from memos_server.storage.repositories.tasks import TaskRepository
from memos_server.storage.repositories.vector_indexes import UserKind, create_index
from tests.fake_llm import FakeLLM, Reply, reply_json
from tests.support.api import Api
from tests.support.conversations import SEED_HOTEL
from tests.support.database import execute, project_of, sql
from tests.support.memories import store_memories
from tests.support.service import ADMIN_KEY, ServiceThread
from tests.support.waiting import wait_until

TRIP = [
    {"role": "user", "content": "下周三我要去杭州出差，住在西湖边的酒店。"},
    {"role": "assistant", "content": "好的，祝您出差顺利。"},
]


def add(api: Api, user: str, messages: list[dict[str, str]], **info: Any) -> str:
    body: dict[str, Any] = {"user_id": user, "conversation_id": "c1", "messages": messages}
    if info:
        body["info"] = info
    task_id: str = api.ok("/add/message", body)["task_id"]
    return task_id


def found(api: Api, user: str, query: str) -> list[str]:
    data = api.ok("/search/memory", {"user_id": user, "query": query, "relativity": 0})
    return [m["memory_value"] for m in data["memory_detail_list"]]


def listed(api: Api, user: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.ok("/get/memory", {"user_id": user})["memory_detail_list"]
    return items


def expiries(pg_url: str, api_key: str, user: str) -> list[datetime | None]:
    rows = sql(
        pg_url,
        "SELECT expires_at FROM memories WHERE project_id = CAST(:p AS uuid) AND user_id = :u",
        p=project_of(pg_url, api_key),
        u=user,
    )
    return [row["expires_at"] for row in rows]


def expire_now(pg_url: str, api_key: str, user: str) -> int:
    """Move the user's expiries (or a forever memory's) into the past, as time would."""
    return execute(
        pg_url,
        "UPDATE memories SET expires_at = now() - interval '1 second' "
        "WHERE project_id = CAST(:p AS uuid) AND user_id = :u",
        p=project_of(pg_url, api_key),
        u=user,
    )


def run_sweep(pg_url: str, settings: RetentionSettings) -> SweepReport:
    async def run() -> SweepReport:
        database = Database(pg_url, DatabaseSettings(pool_size=2, max_overflow=0))
        try:
            return await sweep(database, settings)
        finally:
            await database.dispose()

    # The shared service sweeps too, every 300 s: if it holds the lock now, try again.
    report: SweepReport = wait_until(
        lambda: (r := asyncio.run(run())) and not r.skipped and r, 30, "the sweep lock"
    )
    return report


def test_an_add_with_a_ttl_is_found_until_it_expires_and_never_after(
    api: Api, pg_url: str, api_key: str
) -> None:
    before = datetime.now(UTC)
    add(api, "u1", TRIP, ttl_seconds=3)
    add(api, "u1", SEED_HOTEL)  # no expiry: stays

    kept = expiries(pg_url, api_key, "u1")
    assert None in kept
    [soon] = {e for e in kept if e is not None}
    assert before + timedelta(seconds=3) <= soon <= datetime.now(UTC) + timedelta(seconds=3)
    assert any("杭州" in v for v in found(api, "u1", "杭州出差"))
    memory_id = next(m["id"] for m in listed(api, "u1") if "杭州" in m["memory_value"])
    assert "杭州" in api.data_of(api.get(f"/get/memory/{memory_id}"))["memory_value"]

    wait_until(lambda: datetime.now(UTC) > soon, 10, "the expiry")

    assert not any("杭州" in v for v in found(api, "u1", "杭州出差"))  # neither channel
    assert not any("杭州" in v for v in found(api, "u1", "西湖 酒店"))
    assert any("七天" in v for v in found(api, "u1", "连锁酒店"))
    page = api.ok("/get/memory", {"user_id": "u1"})
    assert [m["id"] for m in page["memory_detail_list"]] != []
    assert memory_id not in {m["id"] for m in page["memory_detail_list"]}
    assert page["total"] == len(page["memory_detail_list"])
    api.error_of(api.get(f"/get/memory/{memory_id}"), 404, 40307)


def test_no_read_path_shows_an_expired_memory(api: Api, pg_url: str, api_key: str) -> None:
    add(api, "u2", TRIP, expires_at=(datetime.now(UTC) + timedelta(days=1)).isoformat())
    [memory] = listed(api, "u2")
    assert "杭州" in api.ok("/console/memories", {"user_id": "u2"})["memories"][0]["text"]
    preference = execute(
        pg_url,
        "INSERT INTO memories (id, project_id, user_id, kind, mode, memory_key, memory_value, "
        "memory_type, preference_type, status, embedding, search_text, expires_at) "
        "SELECT gen_random_uuid(), project_id, user_id, 'preference', 'fine', '偏好', "
        "'喜欢住在西湖边', 'UserMemory', 'explicit_preference', 'activated', embedding, "
        "search_text, expires_at FROM memories WHERE id = CAST(:id AS uuid)",
        id=memory["id"],
    )
    assert preference == 1
    search = {"user_id": "u2", "query": "杭州 西湖", "relativity": 0, "include_preference": True}
    data = api.ok("/search/memory", search)
    assert data["memory_detail_list"]
    assert data["preference_detail_list"]

    assert expire_now(pg_url, api_key, "u2") == 2

    data = api.ok("/search/memory", search)
    assert data["memory_detail_list"] == []
    assert data["preference_detail_list"] == []
    assert "杭州" not in str(data)  # nor in the instruction prompts made from what was found
    page = api.ok("/get/memory", {"user_id": "u2", "include_preference": True})
    assert page["memory_detail_list"] == []
    assert page["preference_detail_list"] == []
    assert (page["total"], page["preference_total"]) == (0, 0)
    api.error_of(api.get(f"/get/memory/{memory['id']}"), 404, 40307)
    # The console: the user's memories, the conversation's, the memory's story, the counts.
    listing = api.ok("/console/memories", {"user_id": "u2"})
    assert (listing["memories"], listing["total"]) == ([], 0)
    thread = api.ok("/console/messages", {"user_id": "u2", "conversation_id": "c1"})
    assert thread["memories"] == []
    assert len(thread["messages"]) == 2
    api.fails("/console/history", {"memory_id": memory["id"]}, 404, 40307)
    [user] = [u for u in api.ok("/console/users", {})["users"] if u["user_id"] == "u2"]
    assert (user["facts"], user["preferences"], user["archived"]) == (0, 0, 0)
    # Changing it is refused like a memory that is not there; deleting it works.
    api.fails("/update/memory", {"memory_id": memory["id"], "content": "改"}, 404, 40307)
    assert api.ok("/delete/memory", {"user_id": "u2"}) is not None
    assert expiries(pg_url, api_key, "u2") == []


@pytest.mark.parametrize(
    ("info", "said"),
    [
        ({"expires_at": "2001-01-01T00:00:00Z"}, "not in the future"),
        ({"expires_at": "下周三"}, "is not a date-time"),
        ({"expires_at": "9999-12-31T00:00:00Z"}, "longest retention"),
        ({"expires_at": ["2030-01-01"]}, "is not a date-time"),
        ({"expires_at": 10**30}, "out of range"),
        ({"ttl_seconds": 0}, "at least 1 (second)"),
        ({"ttl_seconds": -5}, "at least 1 (second)"),
        ({"ttl_seconds": 1e-9}, "at least 1 (second)"),  # expired before it was stored
        ({"ttl_seconds": "3600"}, "a number of seconds"),
        ({"ttl_seconds": True}, "a number of seconds"),
        ({"ttl_seconds": 3650 * 86400 + 1}, "longest retention"),
        ({"ttl_seconds": 1e308}, "longest retention"),
        ({"ttl_seconds": 60, "expires_at": "2030-01-01"}, "not both"),
    ],
)
def test_a_bad_expiry_is_a_clear_400(api: Api, info: dict[str, Any], said: str) -> None:
    body = {"user_id": "u3", "conversation_id": "c1", "messages": TRIP, "info": info}

    message = api.fails("/add/message", body, 400, 40000)

    assert said in message
    assert "expires_at" in message or "ttl_seconds" in message
    assert api.ok("/get/memory", {"user_id": "u3"})["total"] == 0  # nothing stored


def test_an_expiry_as_a_time_or_epoch_seconds(api: Api, pg_url: str, api_key: str) -> None:
    at = datetime(2031, 5, 1, 8, 30, tzinfo=UTC)
    add(api, "u4", TRIP, expires_at="2031-05-01T16:30:00+08:00")
    add(api, "u5", TRIP, expires_at=int(at.timestamp()))

    assert set(expiries(pg_url, api_key, "u4")) == {at}
    assert set(expiries(pg_url, api_key, "u5")) == {at}
    # get/memory and the console show it (Unix ms, as create_time); null on a memory that stays.
    ms = int(at.timestamp() * 1000)
    for item in api.ok("/get/memory", {"user_id": "u4"})["memory_detail_list"]:
        assert item["expires_at"] == ms
        assert api.data_of(api.get(f"/get/memory/{item['id']}"))["expires_at"] == ms
    assert {
        m["expires_at"] for m in api.ok("/console/memories", {"user_id": "u4"})["memories"]
    } == {ms}
    add(api, "u5", SEED_HOTEL)
    shown = {
        m["expires_at"] for m in api.ok("/get/memory", {"user_id": "u5"})["memory_detail_list"]
    }
    assert shown == {ms, None}


def admin(service: ServiceThread, path: str, body: dict[str, Any]) -> httpx.Response:
    url = service.base_url.replace("/api/openmem/v1", "") + "/admin/v1" + path
    return httpx.post(url, json=body, headers={"Authorization": f"Bearer {ADMIN_KEY}"})


def project_name(pg_url: str, api_key: str) -> str:
    [row] = sql(
        pg_url,
        "SELECT name FROM projects WHERE id = CAST(:p AS uuid)",
        p=project_of(pg_url, api_key),
    )
    name: str = row["name"]
    return name


def test_a_project_ttl_applies_to_new_memories(
    service: ServiceThread, api: Api, pg_url: str, api_key: str
) -> None:
    name = project_name(pg_url, api_key)
    add(api, "u6", SEED_HOTEL)  # before the TTL: keeps no expiry

    set_ttl = Api.data_of(admin(service, "/projects/ttl", {"project": name, "ttl_days": 7}))
    assert (set_ttl["name"], set_ttl["ttl_days"]) == (name, 7)
    before = datetime.now(UTC)
    add(api, "u7", TRIP)
    add(api, "u8", TRIP, ttl_seconds=60)  # the add's own expiry wins

    assert set(expiries(pg_url, api_key, "u6")) == {None}
    [week] = set(expiries(pg_url, api_key, "u7"))
    assert week is not None
    assert before + timedelta(days=7) <= week <= datetime.now(UTC) + timedelta(days=7)
    [minute] = set(expiries(pg_url, api_key, "u8"))
    assert minute is not None
    assert minute < before + timedelta(minutes=2)
    assert any("杭州" in v for v in found(api, "u7", "杭州"))
    listing = Api.data_of(
        httpx.get(
            service.base_url.replace("/api/openmem/v1", "") + "/admin/v1/projects",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
    )
    assert next(p for p in listing if p["name"] == name)["ttl_days"] == 7

    Api.data_of(admin(service, "/projects/ttl", {"project": name, "ttl_days": 0}))
    add(api, "u9", TRIP)
    assert set(expiries(pg_url, api_key, "u9")) == {None}

    back = admin(service, "/projects/ttl", {"project": name, "ttl_days": None})
    assert Api.data_of(back)["ttl_days"] is None  # the service's default again

    Api.error_of(admin(service, "/projects/ttl", {"project": name, "ttl_days": 4000}), 400, 40000)
    Api.error_of(admin(service, "/projects/ttl", {"project": name, "ttl_days": True}), 400, 40000)
    Api.error_of(admin(service, "/projects/ttl", {"project": name}), 400, 40002)
    Api.error_of(admin(service, "/projects/ttl", {"project": name, "ttl_days": -1}), 400, 40000)
    Api.error_of(
        admin(service, "/projects/ttl", {"project": "无此项目", "ttl_days": 1}), 404, 40001
    )
    Api.error_of(
        httpx.post(
            service.base_url.replace("/api/openmem/v1", "") + "/admin/v1/projects/ttl",
            json={"project": name, "ttl_days": 1},
            headers={"Authorization": f"Token {api_key}"},
        ),
        401,
        40132,
    )


def test_the_default_ttl_and_a_project_override(pg_url: str, api_key: str) -> None:
    project = uuid.UUID(project_of(pg_url, api_key))

    async def expiry(settings: RetentionSettings, **info: Any) -> datetime | None:
        database = Database(pg_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                # The project's TTL comes with an add's repeat check (no twin here).
                found = await TaskRepository(session).twin_and_ttl(
                    project, "add_message", uuid.uuid4().hex, 60
                )
                assert found.twin is None
                return add_expiry(settings, found.ttl_days, info)
        finally:
            await database.dispose()

    now = datetime.now(UTC)
    ten = asyncio.run(expiry(RetentionSettings(default_ttl_days=10)))
    assert ten is not None
    assert abs(ten - (now + timedelta(days=10))) < timedelta(minutes=1)
    assert asyncio.run(expiry(RetentionSettings())) is None
    asked = asyncio.run(expiry(RetentionSettings(default_ttl_days=10), ttl_seconds=30))
    assert asked is not None
    assert asked - now < timedelta(minutes=1)
    execute(pg_url, "UPDATE projects SET ttl_days = 0 WHERE id = :p", p=project)
    assert asyncio.run(expiry(RetentionSettings(default_ttl_days=10))) is None


def test_the_sweep_purges_in_batches_and_records_deletions_without_content(
    api: Api, pg_url: str, api_key: str
) -> None:
    project = project_of(pg_url, api_key)
    add(api, "甲", TRIP, ttl_seconds=3600)
    add(api, "甲", SEED_HOTEL, ttl_seconds=3600)
    store_memories(pg_url, api_key, "乙", 5, text="临时备忘")
    add(api, "丙", TRIP, ttl_seconds=3600)  # not yet expired: stays
    add(api, "丁", SEED_HOTEL)  # never expires: stays
    expire_now(pg_url, api_key, "甲")
    expire_now(pg_url, api_key, "乙")
    gone = {
        row["id"]
        for row in sql(
            pg_url,
            "SELECT id FROM memories WHERE project_id = CAST(:p AS uuid) AND expires_at < now()",
            p=project,
        )
    }
    assert len(gone) >= 7

    report = run_sweep(pg_url, RetentionSettings(sweep_batch=3))

    assert report.memories >= len(gone)
    assert report.batches >= 3
    assert report.history >= 2  # the adds' ADD rows
    left = sql(
        pg_url,
        "SELECT user_id, count(*) AS n FROM memories WHERE project_id = CAST(:p AS uuid) "
        "GROUP BY user_id ORDER BY user_id",
        p=project,
    )
    assert {row["user_id"] for row in left} == {"丙", "丁"}
    assert sql(
        pg_url,
        "SELECT count(*) AS n FROM memory_history WHERE memory_id = ANY(:ids)",
        ids=list(gone),
    ) == [{"n": 0}]
    records = sql(
        pg_url,
        "SELECT scope, subject, counts::text AS counts, counts AS parsed FROM deletions "
        "WHERE project_id = CAST(:p AS uuid) ORDER BY id",
        p=project,
    )
    assert {r["scope"] for r in records} == {"expiry"}
    pid = uuid.UUID(project)
    assert {r["subject"] for r in records} == {subject_digest(pid, "甲"), subject_digest(pid, "乙")}
    by_user = {
        who: sum(
            r["parsed"]["facts"] + r["parsed"]["preferences"]
            for r in records
            if r["subject"] == subject_digest(pid, who)
        )
        for who in ("甲", "乙")
    }
    assert by_user == {"乙": 5, "甲": len(gone) - 5}
    for record in records:  # no ids, no content
        for said in ("甲", "乙", "杭州", "七天", "临时备忘"):
            assert said not in record["counts"]
            assert said not in record["subject"]
    assert run_sweep(pg_url, RetentionSettings(sweep_batch=3)).memories == 0


def test_one_process_sweeps_at_a_time(pg_url: str) -> None:
    async def run() -> SweepReport:
        database = Database(pg_url, DatabaseSettings(pool_size=2, max_overflow=0))
        try:
            async with database.engine.connect() as holder:
                await holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SWEEP_LOCK})
                try:
                    return await sweep(database, RetentionSettings())
                finally:
                    await holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SWEEP_LOCK})
        finally:
            await database.dispose()

    report = wait_until(lambda: asyncio.run(run()), 30, "a sweep that found the lock held")
    assert report.skipped
    assert report.memories == 0


def cli(pg_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    environment["MEMOS_DATABASE__URL"] = pg_url
    return subprocess.run(
        [sys.executable, "-m", "memos_server", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_commands_set_a_ttl_and_sweep_now(api: Api, pg_url: str, api_key: str) -> None:
    name = project_name(pg_url, api_key)

    result = cli(pg_url, "project", "ttl", name, "30")
    assert result.returncode == 0, result.stderr
    assert "30 days" in result.stdout
    add(api, "u10", TRIP)
    [month] = set(expiries(pg_url, api_key, "u10"))
    assert month is not None
    assert month > datetime.now(UTC) + timedelta(days=29)
    assert cli(pg_url, "project", "ttl", name, "default").returncode == 0
    assert sql(pg_url, "SELECT ttl_days FROM projects WHERE name = :n", n=name) == [
        {"ttl_days": None}
    ]
    assert cli(pg_url, "project", "ttl", name, "-1").returncode == 2
    missing = cli(pg_url, "project", "ttl", "no-such-project", "3")
    assert missing.returncode == 1
    assert "no project named" in missing.stderr

    expire_now(pg_url, api_key, "u10")
    deadline = time.monotonic() + 30
    while True:
        swept = cli(pg_url, "retention", "sweep")
        if swept.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)  # the shared service held the lock
    assert swept.returncode == 0, swept.stderr
    assert "purged" in swept.stdout
    assert expiries(pg_url, api_key, "u10") == []


def fine_add(api: Api, user: str, said: str, **info: Any) -> str:
    body: dict[str, Any] = {
        "user_id": user,
        "conversation_id": uuid.uuid4().hex[:8],
        "messages": [{"role": "user", "content": said}, {"role": "assistant", "content": "好的"}],
        "async_mode": False,
    }
    if info:
        body["info"] = info
    data = api.ok("/add/message", body)
    assert data["status"] == "completed"
    task_id: str = data["task_id"]
    return task_id


def test_fine_mode_memories_keep_the_adds_expiry(
    fine_api: Api, fake_llm: FakeLLM, pg_url: str
) -> None:
    def fact(value: str) -> dict[str, Any]:
        return {"memory_key": "行程", "memory_value": value, "tags": ["行程"]}

    fake_llm.script({"facts": reply_json({"memories": [fact("[user观点]用户下周在杭州出差。")]})})
    task = fine_add(fine_api, "f1", "我下周在杭州出差", ttl_seconds=3600)

    [expected] = sql(pg_url, "SELECT expires_at FROM tasks WHERE id = :t", t=task)
    made = sql(pg_url, "SELECT mode, expires_at FROM memories WHERE task_id = :t", t=task)
    assert {row["mode"] for row in made} == {"fast", "fine"}
    assert {row["expires_at"] for row in made} == {expected["expires_at"]}
    assert expected["expires_at"] is not None

    # An UPDATE that merges an expiring add into a memory that never expired: the merged text
    # holds what the add said, so it lives no longer than the add asked.
    fake_llm.script({"facts": reply_json({"memories": [fact("[user观点]用户住在北京。")]})})
    fine_add(fine_api, "f2", "我住在北京")
    [before] = sql(
        pg_url, "SELECT id, expires_at FROM memories WHERE user_id = 'f2' AND mode = 'fine'"
    )
    assert before["expires_at"] is None
    merged = "[user观点]用户住在北京朝阳区，这个月借住朋友家。"
    fake_llm.script(
        {
            "facts": reply_json({"memories": [fact("[user观点]用户这个月借住朋友家。")]}),
            "reconcile": reply_json({"action": "UPDATE", "id": 1, "memory_value": merged}),
        }
    )
    second = fine_add(fine_api, "f2", "这个月我借住在朝阳区朋友家", ttl_seconds=7200)

    [asked] = sql(pg_url, "SELECT expires_at FROM tasks WHERE id = :t", t=second)
    [after] = sql(
        pg_url, "SELECT memory_value, expires_at FROM memories WHERE id = :m", m=before["id"]
    )
    assert after == {"memory_value": merged, "expires_at": asked["expires_at"]}


def test_a_users_hnsw_index_still_serves_their_search_and_skips_the_expired(
    pg_url: str, api_key: str
) -> None:
    """The search's extra expiry condition leaves the per-user index's predicate implied: the
    plan still walks the index, and what it hands back holds no expired memory."""
    project = uuid.UUID(project_of(pg_url, api_key))
    store_memories(pg_url, api_key, "大用户", 40, text="出差记录")
    execute(
        pg_url,
        "UPDATE memories SET expires_at = now() - interval '1 minute' WHERE user_id = '大用户' "
        "AND project_id = :p AND memory_value IN (SELECT '出差记录 ' || g "
        "FROM generate_series(1, 10) g)",
        p=project,
    )
    [dimension] = sql(pg_url, "SELECT value FROM service_meta WHERE key = 'embedding_dimension'")
    size = int(dimension["value"])
    target = UserKind(project, "大用户", "fact")

    async def run() -> tuple[list[str], str]:
        database = Database(pg_url, DatabaseSettings(pool_size=2, max_overflow=0))
        seen: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            seen.append((statement, parameters))

        try:
            async with database.engine.connect() as raw:
                connection = await raw.execution_options(isolation_level="AUTOCOMMIT")
                await create_index(connection, target, size, 8, 16)
            event.listen(database.engine.sync_engine, "before_cursor_execute", capture)
            async with database.session() as session:
                hits = await MemoryRepository(session).nearest_hits(
                    Scope(project, "大用户"), "fact", [0.05] * size, 40, HnswScan(size, 40)
                )
                event.remove(database.engine.sync_engine, "before_cursor_execute", capture)
                statement, parameters = next(s for s in seen if "ORDER BY" in s[0])
                await session.execute(
                    text(
                        "SELECT set_config('enable_sort', 'off', true), "
                        "set_config('plan_cache_mode', 'force_custom_plan', true)"
                    )
                )
                connection = await session.connection()
                plan = await connection.exec_driver_sql("EXPLAIN " + statement, parameters)
                shown = "\n".join(row[0] for row in plan.all())
            return [str(h.id) for h in hits], shown
        finally:
            await database.dispose()

    ids, plan = asyncio.run(run())

    found = sql(pg_url, "SELECT memory_value FROM memories WHERE id::text = ANY(:ids)", ids=ids)
    values = sorted(row["memory_value"] for row in found)
    assert len(ids) == 30
    assert values == sorted(f"出差记录 {n}" for n in range(11, 41))
    assert target.index_name in plan, plan


def mcp_search(service: ServiceThread, key: str, user: str, query: str) -> str:
    """The MCP search_memory tool's answer, text and structured content, as one string."""

    async def run() -> str:
        headers = {"Authorization": f"Bearer {key}"}
        url = f"http://127.0.0.1:{service.port}/mcp"
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            result = await client.call_tool("search_memory", {"user_id": user, "query": query})
            assert not result.is_error
            words = [b.text for b in result.content if isinstance(b, TextContent)]
            return "\n".join(words) + str(result.structured_content)

    return asyncio.run(run())


def test_the_mcp_tools_never_show_an_expired_memory(
    service: ServiceThread, api: Api, pg_url: str, api_key: str
) -> None:
    add(api, "m1", TRIP, ttl_seconds=3600)
    assert "杭州" in mcp_search(service, api_key, "m1", "杭州出差")

    expire_now(pg_url, api_key, "m1")

    assert "杭州" not in mcp_search(service, api_key, "m1", "杭州出差")


def test_chat_never_recalls_an_expired_memory(
    fine_api: Api, fake_llm: FakeLLM, pg_url: str
) -> None:
    def remembered(value: str) -> Reply:
        return reply_json({"memories": [{"memory_key": "行程", "memory_value": value}]})

    fake_llm.script({"facts": remembered("[user观点]用户下周在杭州出差。")})
    fine_add(fine_api, "chatter", "我下周在杭州出差", ttl_seconds=3600)
    fake_llm.script(
        {
            "facts": remembered("[user观点]用户出差时住七天酒店。"),
            "reconcile": reply_json({"action": "ADD"}),
        }
    )
    fine_add(fine_api, "chatter", "我出差时住七天酒店")

    def recalled() -> str:
        fake_llm.script({"chat": Reply(content="好的")})
        body = {"user_id": "chatter", "conversation_id": uuid.uuid4().hex[:8]}
        fine_api.ok("/chat", {**body, "query": "我下周出差去哪里，住什么酒店？", "relativity": 0})
        [call] = fake_llm.calls("chat")
        return str(call["messages"][:-1])  # everything but the question itself

    assert "杭州" in recalled()
    execute(
        pg_url,
        "UPDATE memories SET expires_at = now() - interval '1 second' "
        "WHERE user_id = 'chatter' AND memory_value LIKE '%杭州%'",
    )

    words = recalled()
    assert "杭州" not in words
    assert "七天" in words
