"""The memories table's row layout (migration 0023): a row stays whole in the heap, and the
migration rewrites the rows stored before it, in batches, with every row intact and every search
answering as before."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import uuid
from typing import Any

import pytest
from alembic import command

from memos_server.services.memory_writer import MemoryText, new_memory
from memos_server.settings import DatabaseSettings
from memos_server.storage.database import Database
from memos_server.storage.migrations import alembic_config, head_revision
from memos_server.storage.models import Memory
from memos_server.storage.repositories.memory_scopes import Scope
from memos_server.storage.repositories.memory_search import MemorySearch
from memos_server.storage.vocabulary import MemoryKind, MemoryMode
from memos_server.text.tokens import query_tokens
from tests.support.database import execute, fresh_database, sql

CITIES = ["杭州", "成都", "深圳", "北京", "上海", "京都"]
THINGS = ["咖啡", "火锅", "跑步", "钢琴", "猫", "登山", "摄影", "茶"]
QUERIES = ["我在杭州喝咖啡", "周末去成都吃火锅", "我的猫喜欢什么", "hiking and photography"]


def vector(rng: random.Random) -> list[float]:
    return [rng.uniform(-1.0, 1.0) for _ in range(384)]


def memories(project: uuid.UUID, user: str, rng: random.Random, count: int) -> list[Memory]:
    """Rows as the service writes them (``new_memory``), a little over the 2 kB TOAST threshold
    with their vector, as real ones are, and some with details, tags, reasoning."""
    made = []
    for i in range(count):
        city, thing = rng.choice(CITIES), rng.choice(THINGS)
        value = (
            f"用户说上周末在{city}和朋友一起{thing}，之后还想再去一次，"
            f"因为{city}的{thing}让人印象很深。I also enjoy hiking and photography in {city}. "
            f"第{i}条记录。"
        )
        made.append(
            new_memory(
                text=MemoryText(f"{city}的{thing}", value),
                project_id=project,
                user_id=user,
                kind=MemoryKind.FACT,
                mode=MemoryMode.FAST,
                memory_type="LongTermMemory",
                embedding=vector(rng),
                conversation_id=f"conv-{i % 5}",
                tags=[city, thing],
                reasoning=f"用户提到{city}" if i % 3 == 0 else None,
                source_message_ids=list(range(i, i + 6)),
                details={"places": [city], "people": ["朋友"]} if i % 4 == 0 else None,
            )
        )
    return made


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def store(url: str, rows: list[Memory]) -> None:
    database = Database(url, DatabaseSettings(pool_size=1, max_overflow=0))
    try:
        async with database.session() as session:
            session.add_all(rows)
            await session.commit()
    finally:
        await database.dispose()


async def searches(url: str, project: uuid.UUID, users: list[str]) -> list[Any]:
    """What search's own statements answer for a few queries: the full-text hits and counts,
    the nearest rows, the final rows with their vectors."""
    rng = random.Random(99)
    answers: list[Any] = []
    database = Database(url, DatabaseSettings(pool_size=1, max_overflow=0))
    try:
        async with database.session() as session:
            repository = MemorySearch(session)
            for user in users:
                scope = Scope(project_id=project, user_id=user)
                for question in QUERIES:
                    # Every match (equal ranks come in the order rows lie in, which a rewrite
                    # changes as any update does): the same rows, with the same words.
                    hits, counts = await repository.lexical_and_counts(
                        scope, {MemoryKind.FACT: 1000}, query_tokens(question)
                    )
                    nearest = await repository.nearest_hits(scope, MemoryKind.FACT, vector(rng), 20)
                    ids = [h.id for h in [*hits[MemoryKind.FACT], *nearest]]
                    found = await repository.found(ids, vectors=True)
                    answers.append(
                        (
                            sorted(hits[MemoryKind.FACT], key=lambda h: h.id),
                            counts,
                            nearest,
                            sorted(
                                (
                                    m.id,
                                    m.memory_key,
                                    m.memory_value,
                                    m.details,
                                    found.vectors[m.id].tolist(),
                                )
                                for m in found.memories.values()
                            ),
                        )
                    )
    finally:
        await database.dispose()
    return answers


def toast_values(url: str) -> int:
    """The values ``memories`` keeps out of line (live TOAST chunks' distinct values)."""
    [row] = sql(
        url, "SELECT reltoastrelid::regclass::text AS t FROM pg_class WHERE relname = 'memories'"
    )
    [count] = sql(url, f"SELECT count(DISTINCT chunk_id) AS n FROM {row['t']}")  # noqa: S608
    return int(count["n"])


def rows(url: str) -> dict[Any, str]:
    """Every row, every column (the generated ``tsv`` too), as text."""
    return {r["id"]: r["row"] for r in sql(url, "SELECT id, m::text AS row FROM memories m")}


@pytest.mark.parametrize("by_keys", [False, True], ids=["by-pages", "by-keys"])
def test_the_row_layout_migration_rewrites_a_populated_table(pg_url: str, by_keys: bool) -> None:
    url = fresh_database(pg_url)
    config = alembic_config(url)
    command.upgrade(config, "0022")
    project = uuid.uuid4()
    execute(url, "INSERT INTO projects (id, name) VALUES (:id, :name)", id=project, name="p")
    rng = random.Random(7)
    users = ["用户-甲", "user-b"]
    stored = [m for user in users for m in memories(project, user, rng, 150)]
    # One memory longer than a page: it goes to TOAST whatever the layout.
    # (Random characters: a repeated text would compress into the row.)
    long_value = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(4000))
    stored.append(
        new_memory(
            text=MemoryText("长记忆", long_value),
            project_id=project,
            user_id=users[0],
            kind=MemoryKind.FACT,
            mode=MemoryMode.FAST,
            memory_type="LongTermMemory",
            embedding=vector(rng),
            conversation_id="conv-long",
        )
    )
    run(store(url, stored))

    before = rows(url)
    answered = run(searches(url, project, users))
    assert len(before) == 301
    # The old layout: the rows' text went out of line, one value and more per row.
    assert toast_values(url) >= 300

    config.attributes["row_rewrite_pages"] = 8  # several batches, as a big table gets
    # Postgres 13 has no TID range scan: the migration rewrites by primary key ranges there.
    config.attributes["row_rewrite_by_keys"] = by_keys
    command.upgrade(config, "head")

    assert rows(url) == before  # every column of every row, the vector and tsv included
    assert run(searches(url, project, users)) == answered
    [table] = sql(url, "SELECT reloptions FROM pg_class WHERE relname = 'memories'")
    assert "toast_tuple_target=8160" in table["reloptions"]
    # Only the long memory still keeps values out of line (its value, search text and tsv).
    assert 1 <= toast_values(url) <= 3
    # Rewritten a batch per transaction, not in one.
    [batches] = sql(url, "SELECT count(DISTINCT xmin::text) AS n FROM memories")
    assert batches["n"] > 3

    # Rows written from now on stay whole too.
    run(store(url, memories(project, "user-c", random.Random(8), 20)))
    assert toast_values(url) <= 3

    command.downgrade(config, "0022")
    [table] = sql(url, "SELECT reloptions FROM pg_class WHERE relname = 'memories'")
    assert table["reloptions"] is None
    command.upgrade(config, "head")
    assert toast_values(url) <= 3
    assert run(searches(url, project, users)) == answered


def test_two_processes_starting_at_once_migrate_one_after_the_other(pg_url: str) -> None:
    """The rewrite commits batch by batch, which ends the migration's transaction lock: the
    other starter still waits for the whole migration, then finds it done."""
    url = fresh_database(pg_url)
    config = alembic_config(url)
    command.upgrade(config, "0022")
    project = uuid.uuid4()
    execute(url, "INSERT INTO projects (id, name) VALUES (:id, :name)", id=project, name="p")
    run(store(url, memories(project, "用户-甲", random.Random(3), 200)))
    before = rows(url)

    # Two processes, as two service instances starting (Alembic's context is one per process).
    script = (
        "import sys; from memos_server.storage.migrations import upgrade_database; "
        "upgrade_database(sys.argv[1])"
    )
    starters = [
        subprocess.Popen([sys.executable, "-c", script, url], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for starter in starters:
        _, errors = starter.communicate(timeout=120)
        assert starter.returncode == 0, errors  # neither fails (a second run of 0023 would)

    assert sql(url, "SELECT version_num FROM alembic_version") == [{"version_num": head_revision()}]
    assert rows(url) == before
    assert toast_values(url) == 0
