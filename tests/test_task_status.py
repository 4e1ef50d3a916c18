"""get/status: the task's memory changes (``memory_views``) and the shape of its ``data``.

MemoryOS SDK 2.0.0 to 2.0.23 parse ``data`` as a list of tasks, 2.0.24 as one object, 2.0.25 and
later normalise a one-item list into the object (keeping its ``memory_views``): the list stays
the default, the object comes on request (``data_shape``) or by setting."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from memos_server.services.tasks import net_changes
from memos_server.storage.vocabulary import HistoryEvent
from tests.fake_llm import FakeLLM, reply_json
from tests.support.api import Api
from tests.support.database import fresh_database, new_api_key, sql
from tests.support.service import ServiceThread, make_settings
from tests.test_fine_mode import add, fact, facts, say, search


def status(api: Api, task_id: str, **extra: Any) -> dict[str, Any]:
    [task] = api.ok("/get/status", {"task_id": task_id, **extra})
    result: dict[str, Any] = task
    return result


def test_a_fast_add_reports_the_memories_it_added(api: Api, pg_url: str) -> None:
    data = api.ok(
        "/add/message",
        {
            "user_id": "u1",
            "conversation_id": "views-fast",
            "messages": [{"role": "user", "content": "我下周去杭州出差，帮我订酒店"}],
        },
    )
    views = status(api, data["task_id"])["memory_views"]

    stored = sql(pg_url, "SELECT id::text FROM memories WHERE task_id = :t", t=data["task_id"])
    assert stored
    assert views == {"added": [m["id"] for m in stored], "updated": [], "deleted": []}


def test_a_fine_add_reports_added_updated_and_deleted(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({"facts": facts(fact("[user观点]用户住在北京。"))})
    first = add(fine_api, say("我住在北京"), "a")
    [beijing] = search(fine_api, "住在哪里")["memory_detail_list"]
    # The fast windows the fine job archived were this task's own: in no list.
    assert status(fine_api, first["task_id"])["memory_views"] == {
        "added": [beijing["id"]],
        "updated": [],
        "deleted": [],
    }

    merged = "[user观点]用户住在北京朝阳区。"
    fake_llm.script(
        {
            "facts": facts(fact("[user观点]用户住在朝阳区。")),
            "reconcile": reply_json({"action": "UPDATE", "id": 1, "memory_value": merged}),
        }
    )
    second = add(fine_api, say("我住朝阳区"), "b")
    assert status(fine_api, second["task_id"])["memory_views"] == {
        "added": [],
        "updated": [beijing["id"]],
        "deleted": [],
    }

    fake_llm.script(
        {
            "facts": facts(fact("[user观点]用户搬到了上海。")),
            "reconcile": reply_json({"action": "ARCHIVE", "id": 1}),
        }
    )
    third = add(fine_api, say("I moved to Shanghai"), "c")
    [shanghai] = search(fine_api, "住在哪里")["memory_detail_list"]
    assert status(fine_api, third["task_id"])["memory_views"] == {
        "added": [shanghai["id"]],
        "updated": [],
        "deleted": [beijing["id"]],
    }


def test_the_object_shape_on_request(api: Api) -> None:
    data = api.ok(
        "/add/message",
        {
            "user_id": "u1",
            "conversation_id": "shape",
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    answer = api.ok("/get/status", {"task_id": data["task_id"], "data_shape": "object"})
    assert answer["task_id"] == data["task_id"]
    assert answer["status"] == "completed"
    assert set(answer["memory_views"]) == {"added", "updated", "deleted"}
    listed = api.ok("/get/status", {"task_id": data["task_id"], "data_shape": "list"})
    assert listed == [answer]
    api.fails("/get/status", {"task_id": data["task_id"], "data_shape": "table"}, 400, 40006)


def test_the_object_shape_by_setting(pg_url: str, tmp_path: Path) -> None:
    own_url = fresh_database(pg_url)
    running = ServiceThread(make_settings(own_url, tmp_path, ingest={"status_shape": "object"}))
    running.start()
    try:
        with Api(running.base_url, new_api_key(own_url)) as api:
            message = {"role": "user", "content": "在吗"}
            body = {"user_id": "u1", "conversation_id": "c", "messages": [message]}
            task_id = api.ok("/add/message", body)["task_id"]
            answer = api.ok("/get/status", {"task_id": task_id})
            assert isinstance(answer, dict)
            assert answer["status"] == "completed"
            listed = api.ok("/get/status", {"task_id": task_id, "data_shape": "list"})
            assert listed == [answer]
    finally:
        running.stop()


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([("a", "ADD")], (["a"], [], [])),
        ([("a", "ADD"), ("a", "ARCHIVE")], ([], [], [])),
        ([("a", "ADD"), ("a", "UPDATE")], (["a"], [], [])),
        ([("b", "UPDATE"), ("b", "UPDATE")], ([], ["b"], [])),
        ([("b", "UPDATE"), ("b", "ARCHIVE")], ([], [], ["b"])),
        ([("c", "DELETE"), ("d", "ADD")], (["d"], [], ["c"])),
    ],
)
def test_net_changes(events: list[tuple[str, str]], expected: tuple[list[str], ...]) -> None:
    ids = {name: uuid.uuid5(uuid.NAMESPACE_DNS, name) for name, _ in events}
    changes = net_changes([(ids[n], HistoryEvent(e)) for n, e in events])
    named = {v: k for k, v in ids.items()}
    got = tuple(
        [named[m] for m in lst] for lst in (changes.added, changes.updated, changes.deleted)
    )
    assert got == expected


def test_a_task_id_is_held_to_an_ids_length_and_not_quoted_back_whole(api: Api) -> None:
    response = api.post("/get/status", {"task_id": "x" * 1_000_000})
    assert response.status_code == 413
    assert response.json()["code"] == 40305
    assert len(response.text) < 300
    assert api.post("/get/status", {"task_id": "x" * 100}).status_code == 404
