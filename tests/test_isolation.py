"""Tenant isolation on every endpoint, in fine mode: project A's key, used with project B's user
ids, conversation ids, agent ids, task ids and memory ids, reads, changes and shows the model
nothing of B's. (tests/test_auth.py checks the same in fast mode.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fake_llm import FakeLLM, reply_json, task_of
from tests.support.api import Api
from tests.support.conversations import SEED_HOTEL
from tests.support.database import new_api_key
from tests.support.service import ServiceThread
from tests.test_fine_mode import HOTEL_FACT, HOTEL_PREFERENCE

SAME = {"user_id": "same-user", "conversation_id": "same-conv", "agent_id": "same-agent"}
B_WORDS = ("七天", "广州", "性价比")  # what B's conversation and memories say; A's never do
A_FACT = {
    **HOTEL_FACT,
    "memory_key": "居住地",
    "memory_value": "[user观点]用户住在成都。",
    "tags": ["成都"],
}


def scripted_memories(fake_llm: FakeLLM, fact: dict[str, Any], pref: dict[str, Any]) -> None:
    fake_llm.script(
        {
            "facts": reply_json({"memories": [fact]}),
            "preferences": reply_json({"preferences": [pref]}),
            "reconcile": reply_json({"operations": []}),
            "feedback": reply_json({"operations": []}),
            "chat": reply_json({"answer": "ok"}),
        }
    )


@pytest.fixture
def two_projects(
    fine_service: ServiceThread, pg_url: str, fake_llm: FakeLLM
) -> Iterator[tuple[Api, Api, str]]:
    with (
        Api(fine_service.base_url, new_api_key(pg_url)) as a,
        Api(fine_service.base_url, new_api_key(pg_url)) as b,
    ):
        scripted_memories(fake_llm, HOTEL_FACT, HOTEL_PREFERENCE)
        task_b = b.ok("/add/message", {**SAME, "messages": SEED_HOTEL, "async_mode": False})
        assert task_b["status"] == "completed"
        pref_a = {**HOTEL_PREFERENCE, "preference": "用户喜欢火锅。", "reasoning": "常吃火锅"}
        scripted_memories(fake_llm, A_FACT, pref_a)
        a.ok(
            "/add/message",
            {**SAME, "messages": [{"role": "user", "content": "我住在成都"}], "async_mode": False},
        )
        yield a, b, task_b["task_id"]


def shows_nothing_of_b(value: Any) -> None:
    text = str(value)
    for word in B_WORDS:
        assert word not in text, f"{word!r} of project B leaked: {text[:300]}"


def b_memories(b: Api) -> list[dict[str, Any]]:
    data = b.ok("/get/memory", {"user_id": "same-user", "include_preference": True})
    return [*data["memory_detail_list"], *data.get("preference_detail_list", [])]


def test_reads_see_nothing_of_the_other_project(two_projects: tuple[Api, Api, str]) -> None:
    a, b, task_b = two_projects
    query = {"user_id": "same-user", "query": "七天酒店 广州 性价比", "include_preference": True}
    found = a.ok("/search/memory", {**query, "conversation_id": "same-conv"})
    assert found["memory_detail_list"]  # A's own memory is there
    shows_nothing_of_b(found)
    shows_nothing_of_b(a.ok("/search/memory", {**query, "filter": {"agent_id": "same-agent"}}))
    shows_nothing_of_b(a.ok("/get/message", SAME))
    shows_nothing_of_b(a.ok("/get/memory", {"user_id": "same-user", "include_preference": True}))
    a.fails("/get/status", {"task_id": task_b}, 404, 40001)
    for memory in b_memories(b):
        a.error_of(a.get(f"/get/memory/{memory['id']}"), 404, 40307)


def test_one_search_shape_run_for_each_project_finds_each_its_own(
    two_projects: tuple[Api, Api, str],
) -> None:
    """A search's statements are built once per shape and run again with the next scope's
    parameters (storage/repositories/memory_search.py): the same search, in turn for B, A, B and
    A, finds each time that project's memories only."""
    a, b, _ = two_projects
    query = {
        "user_id": "same-user",
        "query": "七天酒店 广州 性价比 成都",
        "include_preference": True,
    }
    for _ in range(2):
        found_b = b.ok("/search/memory", query)
        assert any(word in str(found_b) for word in B_WORDS)
        assert "成都" not in str(found_b)
        found_a = a.ok("/search/memory", query)
        assert "成都" in str(found_a)
        shows_nothing_of_b(found_a)


def test_writes_change_nothing_of_the_other_project(two_projects: tuple[Api, Api, str]) -> None:
    a, b, _ = two_projects
    before = b_memories(b)
    assert len(before) == 2
    for memory in before:
        a.fails("/update/memory", {"memory_id": memory["id"], "content": "hacked"}, 404, 40307)
    ids = [m["id"] for m in before]
    assert a.ok("/delete/memory", {"memory_ids": ids})["deleted_count"] == 0
    a.ok("/delete/memory", {"agent_id": "same-agent"})
    a.ok("/delete/memory", {"filter": {"tags": {"contains": "酒店"}}})
    a.ok("/delete/memory", {"user_id": "same-user"})
    assert a.ok("/get/memory", {"user_id": "same-user"})["memory_detail_list"] == []
    assert b_memories(b) == before
    assert len(b.ok("/get/message", SAME)["message_detail_list"]) == len(SEED_HOTEL)


def test_the_model_is_shown_nothing_of_the_other_project(
    two_projects: tuple[Api, Api, str], fake_llm: FakeLLM
) -> None:
    a, b, _ = two_projects
    before = b_memories(b)
    scripted_memories(fake_llm, A_FACT, HOTEL_PREFERENCE)  # and forget earlier requests
    # Worded to be near B's memories, without B's words: the prompts must hold none of them.
    a.ok(
        "/add/feedback", {**SAME, "feedback_content": "我不喜欢那家连锁酒店了", "async_mode": False}
    )
    a.ok("/chat", {**SAME, "query": "暑假旅游，推荐个便宜的连锁酒店"})
    prompts = fake_llm.calls()
    assert {task_of(request) for request in prompts} >= {"feedback", "chat"}
    for request in prompts:
        shows_nothing_of_b(request["messages"])
    assert b_memories(b) == before
