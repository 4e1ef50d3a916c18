"""Group chat (user_id as a list, messages with role_id / role_name) and agent memory (agent_id
alone on search/memory and get/memory), over HTTP in fast mode and with the scripted LLM in
fine mode. The Cloud's page: ``memos_cloud/features/group_chat``."""

from __future__ import annotations

from typing import Any

from tests.fake_llm import FakeLLM, reply_json
from tests.support.api import Api
from tests.support.database import new_api_key, sql
from tests.support.service import ServiceThread

XIAOMING = "u_xiaoming"
XIAOHONG = "u_xiaohong"
AGENT = "trip_helper"

GROUP = [
    {
        "role": "user",
        "role_id": XIAOMING,
        "role_name": "小明",
        "content": "我下周三去杭州出差，想找一家安静的酒店。",
    },
    {
        "role": "user",
        "role_id": XIAOHONG,
        "role_name": "小红",
        "content": "我也一起去，不过我不吃辣，晚饭找清淡一点的餐厅吧。",
    },
    {
        "role": "assistant",
        "role_id": AGENT,
        "content": "好的，我会推荐西湖边安静的酒店和清淡的杭帮菜。",
    },
]


def group_add(api: Api, conversation: str = "group-1", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = api.ok(
        "/add/message",
        {
            "user_id": [XIAOMING, XIAOHONG],
            "agent_id": AGENT,
            "conversation_id": conversation,
            "messages": GROUP,
            "async_mode": False,
            **extra,
        },
    )
    return data


def memories(api: Api, user_id: str, query: str = "杭州出差") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.ok(
        "/search/memory",
        {"user_id": user_id, "query": query, "relativity": 0, "include_preference": False},
    )["memory_detail_list"]
    return found


def status_of(api: Api, task_id: str) -> str:
    data = api.ok("/get/status", {"task_id": task_id})
    item = data[0] if isinstance(data, list) else data
    status: str = item["status"]
    return status


def test_each_user_of_a_group_gets_the_conversation_with_speaker_names(api: Api) -> None:
    task = group_add(api)

    assert task["status"] == "completed"
    assert status_of(api, task["task_id"]) == "completed"
    for user in (XIAOMING, XIAOHONG):
        # Every window of the group's conversation, each line naming its speaker (two turns a
        # window in Chinese): each user keeps the whole discussion, as the Cloud does.
        assert {m["memory_value"] for m in memories(api, user)} == {
            "小明: 我下周三去杭州出差，想找一家安静的酒店。\n"
            "小红: 我也一起去，不过我不吃辣，晚饭找清淡一点的餐厅吧。",
            # A speaker with no role_name is named by its role_id.
            "trip_helper: 好的，我会推荐西湖边安静的酒店和清淡的杭帮菜。",
        }
        said = api.ok("/get/message", {"user_id": user, "conversation_id": "group-1"})
        assert [(m["role"], m["role_id"], m["role_name"]) for m in said["message_detail_list"]] == [
            ("user", XIAOMING, "小明"),
            ("user", XIAOHONG, "小红"),
            ("assistant", AGENT, None),
        ]
    # Nobody else: a user outside the group has nothing.
    assert memories(api, "u_xiaogang") == []


def test_the_same_group_add_sent_twice_is_stored_once(api: Api, pg_url: str) -> None:
    first = group_add(api, "group-twice")
    again = group_add(api, "group-twice")

    assert again["task_id"] == first["task_id"]
    rows = sql(
        pg_url,
        "SELECT user_id, count(*) FROM messages WHERE conversation_id = 'group-twice' "
        "AND task_id = CAST(:t AS uuid) GROUP BY user_id ORDER BY user_id",
        t=first["task_id"],
    )
    assert [(r["user_id"], r["count"]) for r in rows] == [(XIAOHONG, 3), (XIAOMING, 3)]


def test_a_one_user_add_keeps_its_roles_as_before(api: Api) -> None:
    api.ok(
        "/add/message",
        {
            "user_id": "u_solo",
            "conversation_id": "solo",
            "messages": [
                {"role": "user", "content": "我在杭州工作。"},
                {"role": "assistant", "content": "好的。"},
            ],
            "async_mode": False,
        },
    )
    [window] = memories(api, "u_solo", "杭州工作")
    assert window["memory_value"] == "user: 我在杭州工作。\nassistant: 好的。"
    said = api.ok("/get/message", {"user_id": "u_solo", "conversation_id": "solo"})
    assert {m["role_id"] for m in said["message_detail_list"]} == {None}


def test_group_limits(api: Api) -> None:
    body: dict[str, Any] = {"conversation_id": "g", "messages": GROUP}
    too_many = [f"u{i}" for i in range(21)]
    assert "at most 20" in api.fails("/add/message", {**body, "user_id": too_many}, 413, 40305)
    api.fails("/add/message", {**body, "user_id": []}, 400, 40002)
    long_name = [{**GROUP[0], "role_name": "名" * 101}]
    message = api.fails(
        "/add/message", {**body, "user_id": [XIAOMING], "messages": long_name}, 413, 40305
    )
    assert "role_name" in message
    two_agents = {**body, "user_id": [XIAOMING], "agent_id": ["a1", "a2"]}
    assert "agent_id" in api.fails("/add/message", two_agents, 400, 40000)
    no_agent = {**body, "user_id": [XIAOMING], "agent_id": []}
    assert "agent_id" in api.fails("/add/message", no_agent, 400, 40000)
    long_role = [{**GROUP[0], "role_id": "r" * 101}]
    message = api.fails(
        "/add/message", {**body, "user_id": [XIAOMING], "messages": long_role}, 413, 40305
    )
    assert "role_id" in message
    long_user = [XIAOMING, "u" * 101]
    api.fails("/add/message", {**body, "user_id": long_user}, 413, 40010)


def test_forgetting_one_user_of_a_group_keeps_the_others(api: Api, pg_url: str) -> None:
    task = group_add(api, "group-forget")

    api.ok("/delete/user", {"user_id": XIAOHONG})

    assert memories(api, XIAOHONG) == []
    said = api.ok("/get/message", {"user_id": XIAOHONG, "conversation_id": "group-forget"})
    assert said["message_detail_list"] == []
    # Xiaoming's record of the conversation stays his, Xiaohong's words in it too.
    assert any("小红: " in m["memory_value"] for m in memories(api, XIAOMING))
    assert status_of(api, task["task_id"]) == "completed"


def test_forgetting_the_first_user_hands_the_task_on(api: Api, pg_url: str) -> None:
    task = group_add(api, "group-first")

    api.ok("/delete/user", {"user_id": XIAOMING})

    assert memories(api, XIAOMING) == []
    assert len(memories(api, XIAOHONG)) == 2
    assert status_of(api, task["task_id"]) == "completed"
    [row] = sql(
        pg_url,
        "SELECT user_id, idempotency_key, fingerprint FROM tasks WHERE id = CAST(:t AS uuid)",
        t=task["task_id"],
    )
    assert row == {"user_id": XIAOHONG, "idempotency_key": None, "fingerprint": None}


def test_deleting_the_first_users_conversation_keeps_the_others(api: Api) -> None:
    task = group_add(api, "group-message")

    api.ok("/delete/message", {"user_id": XIAOMING, "conversation_id": "group-message"})

    said = api.ok("/get/message", {"user_id": XIAOMING, "conversation_id": "group-message"})
    assert said["message_detail_list"] == []
    said = api.ok("/get/message", {"user_id": XIAOHONG, "conversation_id": "group-message"})
    assert len(said["message_detail_list"]) == 3
    assert status_of(api, task["task_id"]) == "completed"


def test_an_agent_alone_searches_its_memories_of_every_user(api: Api) -> None:
    group_add(api, "group-agent")
    api.ok(
        "/add/message",
        {
            "user_id": "u_other_agent",
            "agent_id": "another_agent",
            "conversation_id": "c",
            "messages": [{"role": "user", "content": "我下周也去杭州出差。"}],
            "async_mode": False,
        },
    )

    found = api.ok("/search/memory", {"agent_id": AGENT, "query": "杭州出差", "relativity": 0})
    values = [m["memory_value"] for m in found["memory_detail_list"]]
    # The group's two windows, each once (stored once for each member), never the other
    # agent's user's.
    assert len(values) == 2
    assert len(set(values)) == 2
    assert not any("我下周也去杭州出差" in value for value in values)
    listed = api.ok("/get/memory", {"agent_id": AGENT})
    assert listed["total"] == 4  # listed, each member's copy is there
    api.fails("/search/memory", {"query": "杭州"}, 400, 40002)


def test_projects_are_apart(service: ServiceThread, pg_url: str, api: Api) -> None:
    group_add(api, "group-project")
    with Api(service.base_url, new_api_key(pg_url)) as other:
        assert memories(other, XIAOMING) == []
        found = other.ok("/search/memory", {"agent_id": AGENT, "query": "杭州", "relativity": 0})
        assert found["memory_detail_list"] == []
        assert other.ok("/get/memory", {"agent_id": AGENT})["total"] == 0


def test_fine_mode_gives_each_speaker_their_facts(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script(
        {
            "facts": reply_json(
                {
                    "memories": [
                        {
                            "speaker": "小明",
                            "memory_key": "杭州出差",
                            "memory_value": "[user观点]小明下周三去杭州出差，想住安静的酒店。",
                        },
                        {
                            "speaker": "小红",
                            "memory_key": "饮食禁忌",
                            "memory_value": "[user观点]小红不吃辣。",
                        },
                        {
                            "speaker": None,
                            "memory_key": "同行安排",
                            "memory_value": "[user观点]小明和小红下周三一起去杭州。",
                        },
                    ]
                }
            ),
            "preferences": reply_json(
                {
                    "preferences": [
                        {
                            "speaker": "小红",
                            "preference_type": "explicit_preference",
                            "preference": "小红偏好清淡的餐厅。",
                            "reasoning": "小红说自己不吃辣。",
                        }
                    ]
                }
            ),
        }
    )

    task = group_add(fine_api, "group-fine")

    assert task["status"] == "completed"
    [extraction] = fake_llm.calls("facts")
    prompt = extraction["messages"][0]["content"]
    assert "小明: 我下周三去杭州出差" in prompt
    assert "小红: 我也一起去" in prompt
    assert "抽取群聊中的事实记忆" in prompt

    def values(user: str) -> set[str]:
        found = fine_api.ok("/get/memory", {"user_id": user, "size": 50})
        return {m["memory_value"] for m in found["memory_detail_list"]} | {
            p["preference"] for p in found["preference_detail_list"]
        }

    shared = "[user观点]小明和小红下周三一起去杭州。"
    assert values(XIAOMING) == {"[user观点]小明下周三去杭州出差，想住安静的酒店。", shared}
    assert values(XIAOHONG) == {"[user观点]小红不吃辣。", shared, "小红偏好清淡的餐厅。"}
