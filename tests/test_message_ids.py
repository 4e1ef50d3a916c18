"""Message ids: each project numbers its own messages 1, 2, 3, ..., so the ids a client sees say
nothing about other projects; the numbers are the same wherever a message is named (get/message,
a memory's sources, the console), and the migration numbers messages stored before it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from alembic import command

from memos_server.settings import DatabaseSettings
from memos_server.storage.database import Database
from memos_server.storage.migrations import alembic_config
from memos_server.storage.repositories.added_rows import insert_messages
from tests.support.api import Api
from tests.support.database import execute, fresh_database, new_api_key, sql
from tests.support.memories import message_values
from tests.support.service import ServiceThread


def add(api: Api, *texts: str, conversation: str = "c1") -> None:
    api.ok(
        "/add/message",
        {
            "user_id": "u1",
            "conversation_id": conversation,
            "messages": [
                {"role": "user" if i % 2 == 0 else "assistant", "content": text}
                for i, text in enumerate(texts)
            ],
        },
    )


def message_ids(api: Api, conversation: str = "c1") -> list[Any]:
    history = api.ok(
        "/get/message",
        {"user_id": "u1", "conversation_id": conversation, "message_limit_number": 50},
    )
    return [m["message_id"] for m in history["message_detail_list"]]


def test_hardening_12_message_ids_are_numbered_per_project(
    api: Api, service: ServiceThread, pg_url: str
) -> None:
    with Api(service.base_url, new_api_key(pg_url)) as other:
        add(api, "我住在北京", "好的，记住了", "我喜欢喝咖啡")
        add(other, "我住在上海", "好的")
        add(api, "我养了一只猫", conversation="c2")
        add(other, "I work as a nurse", conversation="c2")

        assert message_ids(api) == [1, 2, 3]
        assert message_ids(api, "c2") == [4]
        # However many messages the first project stored in between, the other counts its own.
        assert message_ids(other) == [1, 2]
        assert message_ids(other, "c2") == [3]

        # A memory names its messages by the same numbers.
        [memory] = other.ok("/get/memory", {"user_id": "u1"})["memory_detail_list"][-1:]
        sources = [s["message_id"] for s in memory["sources"]]
        assert sources == [1, 2]
        found = other.ok("/search/memory", {"user_id": "u1", "query": "上海"})
        assert {s["message_id"] for m in found["memory_detail_list"] for s in m["sources"]} <= {
            1,
            2,
            3,
        }
        one = other.get(f"/get/memory/{memory['id']}").json()["data"]
        assert [s["message_id"] for s in one["sources"]] == [1, 2]

        data = other.ok("/console/history", {"memory_id": memory["id"]})
        assert data["memory"]["source_message_ids"] == [1, 2]
        assert [m["message_id"] for m in data["messages"]] == [1, 2]
        assert data["history"][0]["source_message_ids"] == [1, 2]


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_hardening_12_the_migration_numbers_stored_messages_per_project(pg_url: str) -> None:
    url = fresh_database(pg_url)
    config = alembic_config(url)
    command.upgrade(config, "0006")
    first, second = uuid.uuid4(), uuid.uuid4()
    for project in (first, second):
        execute(
            url,
            "INSERT INTO projects (id, name) VALUES (:id, :name)",
            id=project,
            name=str(project),
        )
    # Stored interleaved, as two busy projects do: global ids 1..5.
    for project, text in [
        (first, "a1"),
        (second, "b1"),
        (first, "a2"),
        (first, "a3"),
        (second, "b2"),
    ]:
        execute(
            url,
            "INSERT INTO messages (project_id, user_id, conversation_id, role, content)"
            " VALUES (:project, 'u1', 'c1', 'user', :text)",
            project=project,
            text=text,
        )
    execute(
        url,
        "INSERT INTO tasks (id, project_id, kind, user_id, conversation_id, status,"
        " idempotency_key) VALUES (:id, :project, 'add_message', 'u1', 'c1', 'completed', '')",
        id=uuid.uuid4(),
        project=first,
    )

    command.upgrade(config, "head")

    numbered = sql(url, "SELECT content, seq FROM messages ORDER BY id")
    assert [(r["content"], r["seq"]) for r in numbered] == [
        ("a1", 1),
        ("b1", 1),
        ("a2", 2),
        ("a3", 3),
        ("b2", 2),
    ]
    counters = sql(url, "SELECT id, message_seq FROM projects")
    assert {r["id"]: r["message_seq"] for r in counters} == {first: 3, second: 2}
    assert sql(url, "SELECT idempotency_key FROM tasks") == [{"idempotency_key": None}]

    async def store_more() -> list[int]:
        database = Database(url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                rows = [
                    message_values(project_id=second, user_id="u1", content=text)
                    for text in ("b3", "b4")
                ]
                ids = await insert_messages(session, second, rows)
                await session.commit()
                return ids
        finally:
            await database.dispose()

    ids = run(store_more())
    seqs = {r["id"]: r["seq"] for r in sql(url, "SELECT id, seq FROM messages")}
    assert [seqs[i] for i in ids] == [3, 4]  # numbering goes on from the last number

    command.downgrade(config, "0006")
    command.upgrade(config, "head")
    again = sql(
        url, "SELECT content, seq FROM messages WHERE project_id = :p ORDER BY id", p=second
    )
    assert [r["seq"] for r in again] == [1, 2, 3, 4]
