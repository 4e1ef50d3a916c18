"""What a search sends to Postgres: its statements on the driver (alone, the full-text channel, the
vector channel and the rows shown; with other searches under way, both channels in one pass over
the user's rows, then the rows shown), and nothing around them (no BEGIN, no ROLLBACK), counted
where asyncpg sends them; and in them, the query parsed and cast once per execution."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import pytest

from memos_server.settings import DatabaseSettings
from memos_server.storage.database import Database
from memos_server.storage.driver_sql import DriverStatement
from memos_server.storage.repositories.memory_scan import _scan_of_shape
from memos_server.storage.repositories.memory_search import (
    Found,
    MemorySearch,
    _found,
    _lexical_of_shape,
    _nearest_of_shape,
)
from tests.support.api import Api
from tests.support.driver_log import driver_queries
from tests.support.service import ServiceThread

_MESSAGES = [
    {"role": "user", "content": "我周末常去香山爬山"},
    {"role": "assistant", "content": "好的，记住了"},
    {"role": "user", "content": "I also play the piano on Sundays"},
]


def _added(service: ServiceThread, api_key: str, user: str) -> None:
    with Api(service.base_url, api_key) as api:
        api.ok(
            "/add/message",
            {"user_id": user, "conversation_id": "c1", "messages": _MESSAGES, "async_mode": False},
        )


def _searched(service: ServiceThread, api_key: str, user: str) -> tuple[list[str], dict[str, Any]]:
    """What one search (after a first, to warm) sends, and what it finds."""
    with Api(service.base_url, api_key) as api:
        api.ok("/search/memory", {"user_id": user, "query": "周末去哪里"})  # warm
        with driver_queries(service) as sent:
            found = api.ok("/search/memory", {"user_id": user, "query": "周末去哪里爬山"})
    assert any("香山" in m["memory_value"] for m in found["memory_detail_list"])
    assert not any(q.split()[0].upper() in ("BEGIN", "ROLLBACK", "COMMIT") for q in sent), sent
    return sent, found


def test_a_lone_search_is_three_statements_and_no_transaction(
    service: ServiceThread, api_key: str
) -> None:
    """With no other search under way, the full-text channel runs beside the query's embedding
    (the least latency), then the vector channel, then the rows shown."""
    _added(service, api_key, "rt-search")
    sent, _ = _searched(service, api_key, "rt-search")
    assert len(sent) == 3, "\n".join(sent)
    assert "ts_match_vq" in sent[0]
    assert "<=>" not in sent[0]
    assert "<=>" in sent[1]
    assert sent[2].startswith("SELECT memories.id")


def test_with_searches_under_way_a_search_is_two_statements(
    service: ServiceThread, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From ``single_scan_from`` searches under way (1 here: every one), both channels and the
    counts come from one pass over the user's rows, then the rows shown; the same memories."""
    _added(service, api_key, "rt-scan")
    _, before = _searched(service, api_key, "rt-scan")
    monkeypatch.setattr(service.runtime.settings.search, "single_scan_from", 1)
    sent, after = _searched(service, api_key, "rt-scan")
    assert len(sent) == 2, "\n".join(sent)
    assert sent[0].startswith("WITH scanned_fact AS MATERIALIZED")
    assert "ts_match_vq" in sent[0]
    assert "<=>" in sent[0]
    assert sent[1].startswith("SELECT memories.id")
    assert after["memory_detail_list"] == before["memory_detail_list"]


def test_concurrent_searches_take_the_one_pass(service: ServiceThread, api_key: str) -> None:
    """By default (``single_scan_from`` 2) searches running at once read in one pass."""
    _added(service, api_key, "rt-busy")
    start = threading.Barrier(8)

    def search(_: int) -> None:
        with Api(service.base_url, api_key) as api:
            start.wait()
            for _ in range(3):
                api.ok("/search/memory", {"user_id": "rt-busy", "query": "周末去哪里爬山"})

    with driver_queries(service) as sent, ThreadPoolExecutor(8) as pool:
        list(pool.map(search, range(8)))
    assert any(q.startswith("WITH scanned_fact AS MATERIALIZED") for q in sent)


def _generic_plan(pg_url: str, statement: DriverStatement, parameters: dict[str, Any]) -> str:
    async def explain() -> str:
        connection = await asyncpg.connect(pg_url)
        try:
            await connection.execute("SET plan_cache_mode = force_generic_plan")
            rows = await connection.fetch(
                f"EXPLAIN (VERBOSE) {statement.sql}", *statement.arguments(parameters)
            )
        finally:
            await connection.close()
        return "\n".join(row[0] for row in rows)

    return asyncio.run(explain())


def test_the_query_is_parsed_and_cast_once_per_execution(
    service: ServiceThread, pg_url: str
) -> None:
    """Postgres runs a prepared statement with a generic plan after a few executions; there a
    function of a parameter is not folded into a constant. The full-text query (``to_tsquery``)
    and the query vector's cast are each an InitPlan, evaluated once, not in any row's filter,
    sort key or output."""
    kinds = ("fact", "preference")
    scope = {"scope_project": uuid.uuid4(), "scope_user": "someone"}
    limits = {"limit_fact": 10, "limit_preference": 10}
    words = {"words": "'a' | 'b'", "word_0": "'a'", "word_1": "'b'"}
    vector = {"query_vector": [0.1] * 384, "ids": [uuid.uuid4()]}
    statements = [
        (_lexical_of_shape((True, False), kinds, kinds, 2, True), scope | limits | words),
        (_nearest_of_shape((True, False), kinds), scope | limits | vector),
        (_scan_of_shape((True, False), kinds, 2), scope | limits | words | vector),
    ]
    for statement, parameters in statements:
        plan = _generic_plan(pg_url, statement, parameters)
        per_row = [
            line
            for line in plan.splitlines()
            if line.strip().startswith(("Filter:", "Sort Key:", "Output:"))
            and ("to_tsquery" in line or "::vector" in line)
            and "InitPlan" not in line
        ]
        initplans = [line for line in plan.splitlines() if "InitPlan" in line]
        assert initplans, plan
        assert not [line for line in per_row if not _in_initplan(plan, line)], plan


def _in_initplan(plan: str, line: str) -> bool:
    """Whether ``line`` belongs to an InitPlan's own node (its Result's output)."""
    lines = plan.splitlines()
    index = lines.index(line)
    return any("InitPlan" in earlier for earlier in lines[max(0, index - 3) : index])


def test_the_rows_shown_are_read_still_active(
    service: ServiceThread, api_key: str, pg_url: str
) -> None:
    """The channels and the final rows are separate statements, each reading the database as
    of its own start: a memory archived between them is left out by the last one."""
    body = {
        "user_id": "rt-archive",
        "conversation_id": "c1",
        "messages": [{"role": "user", "content": "我家的猫叫汤姆"}],
        "async_mode": False,
    }
    with Api(service.base_url, api_key) as api:
        api.ok("/add/message", body)
        [memory] = api.ok("/search/memory", {"user_id": "rt-archive", "query": "猫叫什么"})[
            "memory_detail_list"
        ]
        api.ok("/update/memory", {"memory_id": memory["id"], "status": "archived"})

    async def read() -> Found:
        database = Database(pg_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                return await MemorySearch(session).found([uuid.UUID(memory["id"])])
        finally:
            await database.dispose()

    assert asyncio.run(read()).memories == {}


def test_queries_of_many_lengths_share_a_few_statements(
    service: ServiceThread, api_key: str
) -> None:
    """Each number of counted query words is a statement of its own, cached and prepared on
    every connection: they come in powers of two, up to 32 words, whatever the query's length."""
    with Api(service.base_url, api_key) as api:
        api.ok(
            "/add/message",
            {"user_id": "rt-words", "conversation_id": "c1", "async_mode": False,
             "messages": [{"role": "user", "content": "word3 and word40 are my passwords"}]},
        )  # fmt: skip
        before = _lexical_of_shape.cache_info().currsize
        for length in range(1, 60):
            query = " ".join(f"word{i}" for i in range(length))
            found = api.ok("/search/memory", {"user_id": "rt-words", "query": query})
            assert (length < 4) or found["memory_detail_list"], length
        added = _lexical_of_shape.cache_info().currsize - before
    assert added <= 6, added  # 1, 2, 4, 8, 16, 32 slots


def test_the_search_statements_are_planned_once(
    service: ServiceThread, api_key: str, pg_url: str
) -> None:
    """How many rows a statement keeps and which ids it names are InitPlans, the kinds and status
    written in: for users alike, no value the planner could use for one execution alone, so
    Postgres settles on one plan for them all (a generic plan) after its first five, instead of
    planning each execution again (0.5-1 ms of its CPU per search when the plans looked cheaper
    for the one execution: a kind with no rows, a LIMIT of 50, a short list of ids). Whose rows
    stay plain binds, so that for users far apart in size it still plans per user."""
    for user in ("plan-a", "plan-b"):
        _added(service, api_key, user)
    with Api(service.base_url, api_key) as api:
        project = api.ok("/search/memory", {"user_id": "plan-a", "query": "香山"})
        [memory] = [m for m in project["memory_detail_list"] if "香山" in m["memory_value"]][:1]
    kinds = ("fact", "preference")
    words = {"words": "'香山' | 'piano'", "word_0": "'香山'", "word_1": "'piano'"}
    limits = {"limit_fact": 50, "limit_preference": 50}
    ids = {"ids": [uuid.UUID(memory["id"])]}
    vector = {"query_vector": [0.05] * service.runtime.require_embedder().dimension}

    async def plans() -> list[tuple[str, int, int]]:
        connection = await asyncpg.connect(pg_url)
        try:
            await connection.execute("ANALYZE memories")
            [project_id] = await connection.fetchrow(
                "SELECT project_id FROM memories WHERE id = $1", ids["ids"][0]
            )
            statements = [
                (_lexical_of_shape((True, False), kinds, kinds, 2, True), words | limits),
                (_nearest_of_shape((True, False), kinds), limits | vector | ids),
                (_scan_of_shape((True, False), kinds, 2), words | limits | vector),
                (_found(False, True), ids),
            ]
            for _ in range(8):
                for user in ("plan-a", "plan-b"):
                    scope = {"scope_project": project_id, "scope_user": user}
                    for statement, parameters in statements:
                        await connection.fetch(
                            statement.sql, *statement.arguments(scope | parameters)
                        )
            rows = await connection.fetch(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement = any($1::text[])",
                [statement.sql for statement, _ in statements],
            )
        finally:
            await connection.close()
        return [(r["statement"], r["generic_plans"], r["custom_plans"]) for r in rows]

    found = asyncio.run(plans())
    assert len(found) == 4, found
    for statement, generic, custom in found:
        assert custom <= 5, (statement[:80], generic, custom)
        assert generic >= 11, (statement[:80], generic, custom)
