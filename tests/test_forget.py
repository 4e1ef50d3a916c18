"""delete/user and delete/message: forgetting a user, or one conversation of theirs.

The proof that a user is forgotten is a scan of every table the database's catalog lists, every
text, array and JSON column, for the user id and for what they said (Chinese included).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from memos_server.app import API_PREFIX
from memos_server.services.forget import subject_digest
from memos_server.settings import DatabaseSettings
from memos_server.storage.database import Database
from memos_server.storage.repositories.vector_indexes import UserKind, create_index
from tests.fake_llm import FakeLLM, Reply, reply_json
from tests.support.api import Api
from tests.support.database import execute, new_api_key, project_of, sql
from tests.support.memories import message_values, store_preference
from tests.support.service import ADMIN_KEY, ServiceThread
from tests.support.waiting import wait_until

SCANNED_TYPES = ("text", "character varying", "jsonb", "ARRAY", "json", "tsvector")


def scan(pg_url: str, needle: str, *, except_project: str | None = None) -> list[str]:
    """``table.column`` of every row anywhere in the database that contains ``needle``, found
    through the catalog (every base table of the public schema); rows of ``except_project``
    (in tables with a project) are left out."""
    columns = sql(
        pg_url,
        "SELECT c.table_name, c.column_name, c.data_type, "
        "EXISTS (SELECT 1 FROM information_schema.columns p WHERE p.table_schema = 'public' "
        "AND p.table_name = c.table_name AND p.column_name = 'project_id') AS scoped "
        "FROM information_schema.columns c JOIN information_schema.tables t "
        "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' "
        "AND c.data_type = ANY(:types)",
        types=list(SCANNED_TYPES),
    )
    assert {"messages", "memories", "memory_history", "tasks", "jobs", "feedback"} <= {
        c["table_name"] for c in columns
    }
    found = []
    for column in columns:
        table, name = column["table_name"], column["column_name"]
        # Names from the catalog, not from a client.
        query = f'SELECT count(*) AS n FROM "{table}" WHERE strpos("{name}"::text, :needle) > 0'  # noqa: S608
        params: dict[str, Any] = {"needle": needle}
        if except_project is not None and column["scoped"]:
            query += " AND project_id <> CAST(:other AS uuid)"
            params["other"] = except_project
        if sql(pg_url, query, **params)[0]["n"]:
            found.append(f"{table}.{name}")
    indexes = sql(
        pg_url, "SELECT indexname FROM pg_indexes WHERE strpos(indexdef, :n) > 0", n=needle
    )
    return found + [f"index {row['indexname']}" for row in indexes]


@dataclass
class Seeded:
    user_id: str
    token: str  # a plain word in everything they said, which tokenising keeps whole
    phrases: list[str]
    memory_id: str  # one of their memories, still there before the deletion
    task_id: str


def seed_user(service: ServiceThread, api: Api, pg_url: str, api_key: str) -> Seeded:
    """A user with a bit of everything: two conversations (one with an Idempotency-Key),
    feedback, a preference, an edited memory, a deleted memory, and an HNSW index."""
    token = "zq" + uuid.uuid4().hex[:10]
    user_id = f"forget-{token}"
    zh = f"我家的猫叫紫色长颈鹿{token}，它最爱吃三文鱼。"
    en = f"My secret locker code is {token} and I keep it in Hangzhou."
    added = api.http.post(
        "/add/message",
        json={
            "user_id": user_id,
            "conversation_id": "家里",
            "messages": [
                {"role": "user", "content": zh},
                {"role": "assistant", "content": "好的，我记住了你的猫。"},
            ],
            "info": {"note": token},
            "tags": [token],
        },
        headers={"Idempotency-Key": f"key-{token}"},
    )
    task_id = Api.data_of(added)["task_id"]
    api.ok(
        "/add/message",
        {
            "user_id": user_id,
            "conversation_id": "work",
            "messages": [{"role": "user", "content": en}],
        },
    )
    api.ok(
        "/add/feedback",
        {
            "user_id": user_id,
            "conversation_id": "家里",
            "feedback_content": f"不对，紫色长颈鹿{token}其实是我的狗。",
        },
    )
    store_preference(service, pg_url, api_key, user_id, f"用户喜欢紫色长颈鹿{token}风格的家具")
    found = api.ok("/get/memory", {"user_id": user_id, "size": 50})["memory_detail_list"]
    assert len(found) >= 3
    edited, removed, *_ = found
    api.ok("/update/memory", {"memory_id": edited["id"], "content": f"紫色长颈鹿{token}改过"})
    api.ok("/delete/memory", {"memory_ids": [removed["id"]]})
    make_index(pg_url, project_of(pg_url, api_key), user_id)
    return Seeded(user_id, token, [zh, en, "紫色长颈鹿"], edited["id"], task_id)


def make_index(pg_url: str, project_id: str, user_id: str) -> None:
    """The user's HNSW index, as the sync loop builds it for a user with many memories."""

    [row] = sql(pg_url, "SELECT value FROM service_meta WHERE key = 'embedding_dimension'")

    async def build() -> None:
        database = Database(pg_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.engine.connect() as raw:
                connection = await raw.execution_options(isolation_level="AUTOCOMMIT")
                target = UserKind(uuid.UUID(project_id), user_id, "fact")
                await create_index(connection, target, int(row["value"]), 8, 16)
        finally:
            await database.dispose()

    asyncio.run(build())


def forget(api: Api, user_id: str) -> dict[str, int]:
    data = api.ok("/delete/user", {"user_id": user_id})
    assert data["success"] is True
    assert isinstance(data["deletion_id"], int)
    deleted: dict[str, int] = data["deleted"]
    return deleted


def test_forgetting_a_user_leaves_nothing_of_them_in_any_table(
    service: ServiceThread, api: Api, pg_url: str, api_key: str
) -> None:
    me = seed_user(service, api, pg_url, api_key)
    project = project_of(pg_url, api_key)
    # Another user of the project, and the same user id in another project.
    api.ok(
        "/add/message",
        {
            "user_id": "neighbour",
            "conversation_id": "c",
            "messages": [{"role": "user", "content": "我住在成都，喜欢火锅。"}],
        },
    )
    other_key = new_api_key(pg_url)
    other_project = project_of(pg_url, other_key)
    with Api(service.base_url, other_key) as other:
        other.ok(
            "/add/message",
            {
                "user_id": me.user_id,
                "conversation_id": "c",
                "messages": [{"role": "user", "content": "Another project, another life."}],
            },
        )
    # A third project's key deletes nothing here, though it names the same user.
    with Api(service.base_url, new_api_key(pg_url)) as stranger:
        assert set(forget(stranger, me.user_id).values()) == {0}
    assert scan(pg_url, me.token), "the seed stored nothing?"

    deleted = forget(api, me.user_id)

    assert deleted["messages"] == 3  # two turns at home, one at work
    assert deleted["tasks"] == 3  # two adds, one feedback
    assert deleted["feedback"] == 1
    # Two fast windows and the feedback memory, less the one deleted before.
    assert deleted["facts"] + deleted["feedback_memories"] == 2
    assert deleted["preferences"] == 1
    assert deleted["indexes"] == 1
    assert deleted["history"] >= 3  # the adds, the update, the delete
    for needle in [me.user_id, me.token, *me.phrases]:
        assert scan(pg_url, needle, except_project=other_project) == [], needle
    [record] = sql(
        pg_url,
        "SELECT scope, subject, counts FROM deletions WHERE project_id = CAST(:p AS uuid) "
        "ORDER BY id DESC LIMIT 1",
        p=project,
    )
    assert record == {
        "scope": "user",
        "subject": subject_digest(uuid.UUID(project), me.user_id),
        "counts": deleted,
    }
    # The operator finds the record from the ids, which it does not hold.
    [name] = sql(pg_url, "SELECT name FROM projects WHERE id = CAST(:p AS uuid)", p=project)
    with Api(service.base_url.removesuffix(API_PREFIX) + "/admin/v1", ADMIN_KEY) as admin:
        [shown] = admin.ok("/deletions", {"project": name["name"], "user_id": me.user_id})
        assert (shown["scope"], shown["deleted"]) == ("user", deleted)
        assert admin.ok("/deletions", {"project": name["name"], "user_id": "neighbour"}) == []
        admin.fails("/deletions", {"project": "no-such-project", "user_id": "u"}, 404, 40001)
    # The neighbour and the other project's user are untouched.
    assert api.ok("/get/memory", {"user_id": "neighbour"})["total"] == 1
    with Api(service.base_url, other_key) as other:
        assert other.ok("/get/memory", {"user_id": me.user_id})["total"] == 1
        messages = other.ok("/get/message", {"user_id": me.user_id, "conversation_id": "c"})
        assert len(messages["message_detail_list"]) == 1
    # Forgetting again finds nothing: success, zero counts.
    assert set(forget(api, me.user_id).values()) == {0}


def test_a_forgotten_user_is_gone_from_search_listings_and_the_console(
    service: ServiceThread, api: Api, pg_url: str, api_key: str
) -> None:
    me = seed_user(service, api, pg_url, api_key)
    user = {"user_id": me.user_id}
    assert api.ok("/search/memory", {**user, "query": "紫色长颈鹿"})["memory_detail_list"]

    forget(api, me.user_id)

    found = api.ok("/search/memory", {**user, "query": "紫色长颈鹿", "relativity": 0})
    assert found["memory_detail_list"] == []
    assert found["preference_detail_list"] == []
    listed = api.ok("/get/memory", {**user, "size": 50})
    assert (listed["total"], listed["preference_total"]) == (0, 0)
    for conversation in ("家里", "work"):
        got = api.ok("/get/message", {**user, "conversation_id": conversation})
        assert got["message_detail_list"] == []
    api.error_of(api.get(f"/get/memory/{me.memory_id}"), 404, 40307)
    api.fails("/get/status", {"task_id": me.task_id}, 404, 40001)
    users = api.ok("/console/users", {})["users"]
    assert me.user_id not in [u["user_id"] for u in users]
    assert api.ok("/console/conversations", user)["total"] == 0
    assert api.ok("/console/memories", user)["total"] == 0
    assert api.ok("/console/messages", {**user, "conversation_id": "家里"})["total"] == 0
    api.fails("/console/history", {"memory_id": me.memory_id}, 404, 40307)


def test_bad_input_answers_memos_errors(api: Api) -> None:
    for body in ({}, {"user_id": None}, {"user_id": ""}, {"user_id": "  "}):
        assert "user_id" in api.fails("/delete/user", body, 400, 40002)
    assert "conversation_id" in api.fails("/delete/message", {"user_id": "u"}, 400, 40002)
    api.fails("/delete/message", {"user_id": "u", "conversation_id": 5}, 400, 40000)
    api.fails("/delete/user", {"user_id": "u" * 101}, 413, 40010)
    api.fails("/delete/message", {"user_id": "u", "conversation_id": "c" * 101}, 413, 40011)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_fine_job_finishing_after_the_deletion_writes_nothing(
    fine_api: Api, fake_llm: FakeLLM, pg_url: str
) -> None:
    """The model answers only once the user is forgotten: the job finds its task gone."""
    started, release = threading.Event(), threading.Event()
    answered: list[float] = []

    def held(reply: Reply) -> Any:
        def answer(_: dict[str, Any]) -> Reply:
            started.set()
            # Under the client's 1 s timeout: the answer must arrive, late.
            release.wait(0.9)
            answered.append(time.monotonic())
            return reply

        return answer

    fact = {"memory_key": "猫", "memory_value": "[user观点]用户的猫叫紫色长颈鹿。", "tags": ["猫"]}
    fake_llm.script(
        {
            "facts": held(reply_json({"memories": [fact]})),
            "preferences": held(reply_json({"preferences": []})),
        }
    )
    records = Records()
    worker_log = logging.getLogger("memos_server.services.jobs.worker")
    worker_log.addHandler(records)
    try:
        task = fine_api.ok(
            "/add/message",
            {
                "user_id": "late",
                "conversation_id": "c",
                "messages": [{"role": "user", "content": "我的猫叫紫色长颈鹿。"}],
            },
        )
        assert started.wait(30), "the job never asked the model"
        deleted = forget(fine_api, "late")
        deleted_at = time.monotonic()
        release.set()
        assert (deleted["jobs"], deleted["messages"]) == (1, 1)
        wait_until(lambda: any("was deleted" in m for m in records.messages), 30, "the job")
    finally:
        worker_log.removeHandler(records)
    assert len(answered) == 2
    assert min(answered) > deleted_at  # the model answered after the deletion
    project = project_of_api(pg_url, fine_api)
    for table in ("memories", "messages", "tasks", "jobs"):
        rows = sql(
            pg_url,
            f"SELECT count(*) AS n FROM {table} WHERE project_id = CAST(:p AS uuid)",  # noqa: S608
            p=project,
        )
        assert rows == [{"n": 0}], table
    assert sql(pg_url, "SELECT 1 FROM memory_history WHERE task_id = :t", t=task["task_id"]) == []
    found = fine_api.ok("/search/memory", {"user_id": "late", "query": "猫", "relativity": 0})
    assert found["memory_detail_list"] == []


def project_of_api(pg_url: str, api: Api) -> str:
    key = api.http.headers["Authorization"].removeprefix("Token ")
    return project_of(pg_url, key)


def test_deleting_a_conversation_keeps_what_was_also_said_elsewhere(
    service: ServiceThread, api: Api, pg_url: str, api_key: str
) -> None:
    token = "zq" + uuid.uuid4().hex[:10]

    def say(conversation: str, text: str) -> str:
        data = api.ok(
            "/add/message",
            {
                "user_id": "u",
                "conversation_id": conversation,
                "messages": [
                    {"role": "user", "content": text},
                    {"role": "assistant", "content": "好的。"},
                ],
            },
        )
        task_id: str = data["task_id"]
        return task_id

    say("gone", f"我在杭州的门牌号是{token}号。")
    say("kept", "我周末喜欢去西湖跑步。")
    api.ok(
        "/add/feedback",
        {"user_id": "u", "conversation_id": "gone", "feedback_content": f"门牌号{token}写错了"},
    )
    project = project_of(pg_url, api_key)
    ids = {
        row["conversation_id"]: row["ids"]
        for row in sql(
            pg_url,
            "SELECT conversation_id, array_agg(id) AS ids FROM messages "
            "WHERE project_id = CAST(:p AS uuid) GROUP BY conversation_id",
            p=project,
        )
    }
    # A memory made from both conversations (as a fine UPDATE merges them) is kept.
    execute(
        pg_url,
        "UPDATE memories SET source_message_ids = CAST(:ids AS bigint[]) "
        "WHERE project_id = CAST(:p AS uuid) AND conversation_id = 'kept'",
        ids=ids["gone"] + ids["kept"],
        p=project,
    )
    before = api.ok("/get/memory", {"user_id": "u"})["memory_detail_list"]
    doomed = {m["id"] for m in before if m["conversation_id"] == "gone"}
    assert len(doomed) == 2  # the window and the feedback

    data = api.ok("/delete/message", {"user_id": "u", "conversation_id": "gone"})

    assert data["deleted"] == {
        "jobs": 0,
        "memories": 2,
        "history": 2,  # each one's ADD row
        "feedback": 1,
        "tasks": 2,
        "messages": 2,
    }
    assert api.ok("/get/message", {"user_id": "u", "conversation_id": "gone"}) == {
        "message_detail_list": []
    }
    kept = api.ok("/get/message", {"user_id": "u", "conversation_id": "kept"})
    assert len(kept["message_detail_list"]) == 2
    [left] = api.ok("/get/memory", {"user_id": "u"})["memory_detail_list"]
    assert left["conversation_id"] == "kept"
    assert [s["message_id"] for s in left["sources"]] == sorted(
        m["message_id"] for m in kept["message_detail_list"]
    )
    history = sql(
        pg_url,
        "SELECT memory_id::text AS id FROM memory_history WHERE project_id = CAST(:p AS uuid)",
        p=project,
    )
    assert not {row["id"] for row in history} & doomed
    # Nothing quotes it, history included: a row left there would name no user, and a later
    # delete/user could not find it.
    assert scan(pg_url, token) == []
    [record] = sql(
        pg_url,
        "SELECT scope, subject FROM deletions WHERE project_id = CAST(:p AS uuid)",
        p=project,
    )
    assert record == {
        "scope": "conversation",
        "subject": subject_digest(uuid.UUID(project), "u", "gone"),
    }
    # Again: nothing left to delete. Another project's key: nothing of this one.
    again = api.ok("/delete/message", {"user_id": "u", "conversation_id": "gone"})
    assert set(again["deleted"].values()) == {0}
    with Api(service.base_url, new_api_key(pg_url)) as stranger:
        other = stranger.ok("/delete/message", {"user_id": "u", "conversation_id": "kept"})
        assert set(other["deleted"].values()) == {0}
    assert len(api.ok("/get/memory", {"user_id": "u"})["memory_detail_list"]) == 1
    # Forgetting the user afterwards leaves nothing of either conversation anywhere.
    api.ok("/delete/user", {"user_id": "u"})
    assert scan(pg_url, token) == []
    assert scan(pg_url, "西湖跑步") == []


def test_an_add_in_flight_is_deleted_with_the_user_not_left_half(
    service: ServiceThread, api: Api, pg_url: str, api_key: str
) -> None:
    """An add holds the user's lock shared until it commits; forgetting waits for it, then
    deletes what it stored."""
    from memos_server.storage.repositories.added_rows import insert_messages
    from memos_server.storage.repositories.tasks import TaskRepository

    project = uuid.UUID(project_of(pg_url, api_key))

    async def add_while_forgetting() -> tuple[bool, dict[str, int]]:
        database = Database(pg_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                await TaskRepository(session).lock_user(project, "racer", exclusive=False)
                message = message_values(
                    project_id=project, user_id="racer", content="一条正在写入的消息"
                )
                await insert_messages(session, project, [message])
                deleting = asyncio.create_task(asyncio.to_thread(forget, api, "racer"))
                await asyncio.sleep(1.0)
                waited = not deleting.done()
                await session.commit()
            return waited, await deleting
        finally:
            await database.dispose()

    waited, deleted = asyncio.run(add_while_forgetting())

    assert waited, "the deletion did not wait for the add in flight"
    assert deleted["messages"] == 1
    got = api.ok("/get/message", {"user_id": "racer", "conversation_id": "c"})
    assert got["message_detail_list"] == []


def test_a_memory_deleted_before_its_conversation_leaves_no_history(api: Api, pg_url: str) -> None:
    token = f"证件号{uuid.uuid4().hex[:10]}"
    body = {"user_id": "dm", "conversation_id": "c9", "async_mode": False}
    api.ok("/add/message", body | {"messages": [{"role": "user", "content": f"我的{token}"}]})
    [memory] = api.ok("/get/memory", {"user_id": "dm"})["memory_detail_list"]
    api.ok("/delete/memory", {"memory_ids": [memory["id"]]})
    # The DELETE row keeps the text until the conversation or the user is forgotten.
    assert any(place.startswith("memory_history.") for place in scan(pg_url, token))

    deleted = api.ok("/delete/message", {"user_id": "dm", "conversation_id": "c9"})["deleted"]

    assert deleted["history"] >= 2
    assert scan(pg_url, token) == []


def test_an_update_in_flight_is_forgotten_with_its_user(
    service: ServiceThread, api_key: str, pg_url: str
) -> None:
    """update/memory holds the owner's lock shared, as an add does: delete/user waits for it and
    then deletes the history row it wrote, which would otherwise quote the old text for good."""
    token = f"银行卡{uuid.uuid4().hex[:10]}"
    with Api(service.base_url, api_key) as api:
        body = {"user_id": "upd", "conversation_id": "c1", "async_mode": False}
        api.ok("/add/message", body | {"messages": [{"role": "user", "content": f"我的{token}"}]})
        [memory] = api.ok("/get/memory", {"user_id": "upd"})["memory_detail_list"]

    def post(path: str, payload: dict[str, Any]) -> int:
        with Api(service.base_url, api_key) as client:
            return client.post(path, payload).status_code

    async def race() -> tuple[int, int]:
        import asyncpg

        holder = await asyncpg.connect(pg_url)
        try:
            held = holder.transaction()
            await held.start()
            await holder.execute(
                "SELECT 1 FROM memories WHERE id = $1 FOR UPDATE", uuid.UUID(memory["id"])
            )
            update = asyncio.create_task(
                asyncio.to_thread(
                    post, "/update/memory", {"memory_id": memory["id"], "content": "改过了"}
                )
            )
            await asyncio.sleep(0.5)
            forget_task = asyncio.create_task(
                asyncio.to_thread(post, "/delete/user", {"user_id": "upd"})
            )
            await asyncio.sleep(0.5)
            await held.commit()
            return await update, await forget_task
        finally:
            await holder.close()

    updated, forgotten = asyncio.run(race())

    assert (updated, forgotten) == (200, 200)
    assert scan(pg_url, token) == []
    assert scan(pg_url, "改过了") == []
