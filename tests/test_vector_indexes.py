"""Per-user HNSW indexes: built for users who grew past the setting, used by their searches,
dropped when they shrink; everyone else keeps the exact scan."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memos_server.services.apikeys import hash_key
from memos_server.services.search.vector_indexes import SyncReport, sync_indexes
from memos_server.settings import DatabaseSettings, SearchSettings
from memos_server.storage.database import Database
from memos_server.storage.repositories.vector_indexes import UserKind
from tests.support.api import Api
from tests.support.database import fresh_database, new_api_key, sql, sql_autocommit
from tests.support.service import ServiceThread, make_settings
from tests.support.waiting import wait_until

BIG = "o'brien\\大客户"  # quotes, a backslash and CJK: the index predicate must hold them
SEARCH = SearchSettings(hnsw_min_memories=30, hnsw_sync_interval_s=3600)


@pytest.fixture(scope="module")
def database_url(pg_url: str) -> str:
    return fresh_database(pg_url)


@pytest.fixture(scope="module")
def indexed_service(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    settings = make_settings(
        database_url,
        tmp_path_factory.mktemp("hnsw"),
        search=SEARCH,
        fast={"window_turns": 1},
    )
    running = ServiceThread(settings)
    running.start()
    yield running
    running.stop()


def sync(database_url: str) -> SyncReport:
    async def run() -> SyncReport:
        database = Database(database_url, DatabaseSettings(pool_size=2, max_overflow=0))
        try:
            return await sync_indexes(database, SEARCH, 384)
        finally:
            await database.dispose()

    return asyncio.run(run())


def remember(api: Api, user: str, count: int) -> None:
    messages = [
        {"role": "user", "content": f"Note {i}: I visited city number {i} and liked its food."}
        for i in range(count)
    ]
    api.ok("/add/message", {"user_id": user, "conversation_id": "c1", "messages": messages})


def search(api: Api, user: str, **extra: Any) -> list[str]:
    body = {"user_id": user, "query": "which city had good food?", "memory_limit_number": 10}
    data = api.ok("/search/memory", {**body, **extra})
    return [m["memory_value"] for m in data["memory_detail_list"]]


def index_scans(database_url: str, name: str) -> int:
    rows = sql(
        database_url,
        "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = :n",
        n=name,
    )
    return int(rows[0]["idx_scan"]) if rows else -1


def test_a_big_user_gets_an_index_that_their_searches_use(
    indexed_service: ServiceThread, database_url: str, tmp_path: Path
) -> None:
    key = new_api_key(database_url)
    [project] = sql(
        database_url, "SELECT project_id FROM api_keys WHERE key_hash = :h", h=hash_key(key)
    )
    api = Api(indexed_service.base_url, key)
    remember(api, BIG, 40)
    remember(api, "small", 5)
    exact = search(api, BIG)
    assert len(exact) == 10

    report = sync(database_url)
    target = UserKind(project["project_id"], BIG, "fact")
    assert report.created == [target.index_name]
    assert sync(database_url).created == []  # already there

    runtime = indexed_service.runtime
    assert runtime.indexes is not None
    runtime.indexes.forget()
    assert search(api, BIG) == exact  # 40 rows: the index finds them all
    wait_until(lambda: index_scans(database_url, target.index_name) > 0, 15, "an index scan")
    # A filtered search reads the exact scan; a small user has no index at all.
    assert search(api, BIG, filter={"create_time": {"gte": "2000-01-01"}}) == exact
    assert len(search(api, "small")) == 5

    sql_autocommit(
        database_url,
        "UPDATE memories SET status = 'archived' "
        "WHERE user_id LIKE 'o''brien%' AND memory_value NOT LIKE '%Note 1%'",
    )
    assert sync(database_url).dropped == [target.index_name]
    runtime.indexes.forget()
    assert len(search(api, BIG)) == 10  # back to the exact scan
    api.close()
