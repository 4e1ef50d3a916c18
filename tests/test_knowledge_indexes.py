"""A knowledge base past ``knowledge.hnsw_min_passages`` gets an HNSW index of its own, searches
walk it and find what the exact scan finds, and the index goes with its base."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from memos_server.storage.repositories.knowledge_indexes import PREFIX
from tests.support.api import Api
from tests.support.database import fresh_database, new_api_key, sql
from tests.support.knowledge import create_base, passages_of, settled, upload
from tests.support.service import ServiceThread, make_settings

LEAST = 8
TOPICS = [
    ("退货政策", "商品签收后七天内可以无理由退货，生鲜和定制商品除外。"),
    ("低敏狗粮", "低敏狗粮不含鸡肉和牛肉，适合肠胃敏感、容易拉肚子的小狗。"),
    ("会员积分", "每消费一元积一分，积分可以在下次购物时抵扣现金。"),
    ("营业时间", "门店每天上午九点到晚上九点营业，节假日照常开门。"),
    ("Shipping", "Orders ship within two days; remote areas may take a week longer."),
    ("Warranty", "Electronics carry a one-year warranty against manufacturing defects."),
]


def manual(copies: int) -> bytes:
    """A Markdown manual of ``copies`` × 6 sections, a passage each."""
    sections = []
    for n in range(copies):
        for title, body in TOPICS:
            sections.append(f"# {title} {n}\n\n{body}第{n}版说明。\n")
    return "\n".join(sections).encode()


def short(sections: int) -> bytes:
    return "\n".join(f"# {t}\n\n{b}\n" for t, b in TOPICS[:sections]).encode()


@pytest.fixture(scope="module")
def own_url(pg_url: str) -> str:
    """A database of its own: a service with another threshold, on the shared database, would
    drop these indexes (a deployment's processes share one setting)."""
    return fresh_database(pg_url)


@pytest.fixture(scope="module")
def indexing(own_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    settings = make_settings(
        own_url, tmp_path_factory.mktemp("kbindex"), knowledge={"hnsw_min_passages": LEAST}
    )
    running = ServiceThread(settings)
    running.start()
    client = Api(running.base_url, new_api_key(own_url))
    yield client
    client.close()
    running.stop()


def index_names(pg_url: str) -> set[str]:
    rows = sql(pg_url, "SELECT relname FROM pg_class WHERE relname LIKE :p", p=PREFIX + "%")
    return {row["relname"] for row in rows}


def wait_for_index(pg_url: str, name: str, present: bool = True) -> None:
    deadline = time.monotonic() + 60
    while (name in index_names(pg_url)) != present:
        assert time.monotonic() < deadline, f"index {name} {'never built' if present else 'kept'}"
        time.sleep(0.2)


def searched(api: Api, query: str, bases: list[str]) -> list[str]:
    body = {"user_id": "kb", "query": query, "knowledgebase_ids": bases}
    body["knowledgebase_limit_number"] = 5
    return [p["memory_value"] for p in passages_of(api.ok("/search/memory", body))]


def test_a_large_base_is_indexed_searched_through_it_and_dropped_with_it(
    indexing: Api, api: Api, own_url: str
) -> None:
    pg_url = own_url
    large, small = create_base(indexing, "大手册"), create_base(indexing, "小手册")
    files = upload(indexing, large, ("手册.md", manual(3)))  # 18 passages
    files += upload(indexing, small, ("short.md", short(1)))
    assert all(f["status"] == "completed" for f in settled(indexing, [f["id"] for f in files]))
    large_index = PREFIX + large.replace("-", "")
    wait_for_index(pg_url, large_index)
    assert PREFIX + small.replace("-", "") not in index_names(pg_url)

    # The same documents in a project of the default service: no index, an exact scan.
    exact_base = create_base(api, "大手册")
    exact_files = upload(api, exact_base, ("手册.md", manual(3)))
    settled(api, [f["id"] for f in exact_files])
    for query in ("我家小狗老拉肚子，吃什么狗粮好", "how long does shipping take", "积分怎么用"):
        walked = searched(indexing, query, [large])
        assert walked
        assert walked == searched(api, query, [exact_base])
    # Several bases: the indexed one walked, the small one scanned, one list.
    both = searched(indexing, "七天无理由退货", [large, small])
    assert TOPICS[0][1] in both  # the small base's passage (no "第n版" in it)
    assert any("版说明" in text for text in both)
    # The searches walked the index. A backend reports its counts when a transaction ends, at
    # most once a second, else when it has been idle 10 s: wait for them.
    deadline = time.monotonic() + 30
    while True:
        scans = sql(
            pg_url,
            "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = :n",
            n=large_index,
        )
        if scans[0]["idx_scan"] > 0:
            break
        assert time.monotonic() < deadline, "the searches never walked the index"
        time.sleep(0.5)

    indexing.ok("/delete/knowledgebase", {"knowledgebase_id": large})
    # The next document's sync drops the index of a base that is gone.
    more = upload(indexing, small, ("more.md", short(2)))
    settled(indexing, [f["id"] for f in more])
    wait_for_index(pg_url, large_index, present=False)


def test_index_names_stay_within_postgres_identifier_limit(tmp_path: Path) -> None:
    import uuid

    from memos_server.storage.repositories.knowledge_indexes import base_index_name, base_of_index

    base = uuid.uuid4()
    assert len(base_index_name(base)) <= 63
    assert base_of_index(base_index_name(base)) == base
    assert base_of_index("ix_kbhnsw_not-a-uuid") is None
