"""Fine mode fills profiles: after an add, the scripted model's values for the updatable fields
of the user's bound template are written with history; locked fields keep the client's value."""

from __future__ import annotations

from typing import Any

from tests.fake_llm import FakeLLM, Reply, reply_json
from tests.support.api import Api
from tests.support.database import sql

TREE: dict[str, Any] = {
    "基本信息": {
        "姓名": {"value": "", "algorithm_updatable": False},
        "职业": {"value": "", "algorithm_updatable": True},
        "所在城市": {"value": "", "algorithm_updatable": True},
    },
    "兴趣爱好": {"爱好": {"value": "", "algorithm_updatable": True}},
}


def updates(*pairs: tuple[str, str]) -> Reply:
    return reply_json({"updates": [{"path": p, "new_value": v} for p, v in pairs]})


def setup(api: Api, user: str = "u1") -> str:
    template: str = api.ok("/add/profile_template", {"name": "用户画像", "metadata": TREE})[
        "profile_template_id"
    ]
    api.ok(
        "/bind/profile_template",
        {"bind_list": [{"user_id": user, "profile_template_id": template}]},
    )
    return template


def add(api: Api, text: str, conversation: str = "c1") -> dict[str, Any]:
    data: dict[str, Any] = api.ok(
        "/add/message",
        {
            "user_id": "u1",
            "conversation_id": conversation,
            "messages": [
                {"role": "user", "content": text},
                {"role": "assistant", "content": "好的，我记住了。"},
            ],
            "async_mode": False,
        },
    )
    assert data["status"] == "completed", data
    return data


def properties(api: Api) -> dict[str, Any]:
    [profile] = api.ok("/get/memory", {"user_id": "u1"})["profile_detail_list"]
    found: dict[str, Any] = profile["properties"]
    return found


def values(api: Api) -> dict[str, str]:
    return {
        f"{category}.{name}": leaf["value"]
        for category, fields in properties(api).items()
        for name, leaf in fields.items()
    }


def test_an_add_fills_the_updatable_fields_with_history(
    fine_api: Api, fake_llm: FakeLLM, pg_url: str
) -> None:
    setup(fine_api)
    fake_llm.script(
        {
            "profile": updates(
                ("基本信息.职业", "产品经理"),
                ("基本信息.所在城市", "杭州"),
                ("基本信息.姓名", "王小明"),  # not offered to the model: dropped
                ("基本信息.年龄", "30"),  # no such field: dropped
            )
        }
    )

    task = add(fine_api, "我是一名产品经理，住在杭州，平时喜欢读科幻小说。")

    assert values(fine_api) == {
        "基本信息.姓名": "",
        "基本信息.职业": "产品经理",
        "基本信息.所在城市": "杭州",
        "兴趣爱好.爱好": "",
    }
    [call] = fake_llm.calls("profile")
    prompt = call["messages"][0]["content"]
    assert "- 基本信息.职业: （空）" in prompt
    assert "- 兴趣爱好.爱好: （空）" in prompt
    assert "姓名" not in prompt  # a field the model may not update is not shown to it
    assert "我是一名产品经理" in prompt
    history = sql(
        pg_url,
        "SELECT h.path, h.actor, h.old_value, h.new_value, h.task_id::text AS task, "
        "h.source_message_ids = (SELECT array_agg(id ORDER BY id) FROM messages m "
        "WHERE m.task_id = h.task_id) AS from_the_add "
        "FROM profile_history h WHERE h.task_id = CAST(:t AS uuid) ORDER BY h.id",
        t=task["task_id"],
    )
    assert [(h["path"], h["actor"], h["old_value"], h["new_value"]) for h in history] == [
        ("基本信息.职业", "model", "", "产品经理"),
        ("基本信息.所在城市", "model", "", "杭州"),
    ]
    assert all(h["from_the_add"] for h in history)


def test_a_field_the_client_locked_is_never_overwritten(
    fine_api: Api, fake_llm: FakeLLM, pg_url: str
) -> None:
    template = setup(fine_api)
    fake_llm.script(
        {"profile": updates(("基本信息.职业", "产品经理"), ("基本信息.所在城市", "杭州"))}
    )
    add(fine_api, "我是产品经理，住在杭州。")
    fine_api.ok(
        "/edit/profile",
        {
            "user_id": "u1",
            "profile_template_id": template,
            "metadata": {"基本信息": {"所在城市": {"value": "上海", "algorithm_updatable": False}}},
        },
    )
    # The model is told only of the unlocked fields, and even a stray answer for the locked one
    # is not written.
    fake_llm.script(
        {"profile": updates(("基本信息.职业", "产品总监"), ("基本信息.所在城市", "北京"))}
    )

    add(fine_api, "我升职做产品总监了，最近常去北京出差。", "c2")

    assert values(fine_api)["基本信息.职业"] == "产品总监"
    assert values(fine_api)["基本信息.所在城市"] == "上海"
    assert properties(fine_api)["基本信息"]["所在城市"]["algorithm_updatable"] is False
    [call] = fake_llm.calls("profile")
    prompt = call["messages"][0]["content"]
    assert "- 基本信息.职业: 产品经理" in prompt
    assert "所在城市" not in prompt
    rows = sql(
        pg_url,
        "SELECT actor, old_value, new_value FROM profile_history "
        "WHERE path = '基本信息.所在城市' AND subject_id = 'u1' "
        "AND project_id = (SELECT project_id FROM profile_templates "
        "WHERE id = CAST(:t AS uuid)) ORDER BY id",
        t=template.removeprefix("tpl_"),
    )
    assert rows == [
        {"actor": "model", "old_value": "", "new_value": "杭州"},
        {"actor": "client", "old_value": "杭州", "new_value": "上海"},
    ]


def test_no_profile_no_call(fine_api: Api, fake_llm: FakeLLM) -> None:
    add(fine_api, "我住在成都。")
    assert fake_llm.calls("profile") == []
    assert fine_api.ok("/get/memory", {"user_id": "u1"})["profile_detail_list"] == []


def test_english_conversations_get_the_english_prompt(fine_api: Api, fake_llm: FakeLLM) -> None:
    template: str = fine_api.ok(
        "/add/profile_template",
        {"name": "Profile", "metadata": {"Basic Info": {"Occupation": {"value": ""}}}},
    )["profile_template_id"]
    fine_api.ok(
        "/bind/profile_template",
        {"bind_list": [{"user_id": "u1", "profile_template_id": template}]},
    )
    fake_llm.script({"profile": updates(("Basic Info.Occupation", "Product manager"))})

    fine_api.ok(
        "/add/message",
        {
            "user_id": "u1",
            "conversation_id": "en",
            "messages": [
                {"role": "user", "content": "I work as a product manager in Hangzhou."},
                {"role": "assistant", "content": "Got it."},
            ],
            "async_mode": False,
        },
    )

    [call] = fake_llm.calls("profile")
    assert "- Basic Info.Occupation: (empty)" in call["messages"][0]["content"]
    searched = fine_api.ok(
        "/search/memory",
        {"user_id": "u1", "query": "What does the user do?", "include_memory_view": ["profile"]},
    )
    [field] = searched["profile_detail_list"]
    assert field["memory"] == "Basic Info.Occupation: Product manager"


def test_an_unusable_answer_loses_the_fill_not_the_facts(fine_api: Api, fake_llm: FakeLLM) -> None:
    setup(fine_api)
    fake_llm.script(
        {
            "facts": reply_json(
                {"memories": [{"memory_key": "居住地", "memory_value": "[user观点]用户住在杭州。"}]}
            ),
            "profile": Reply(content="我不知道"),
        }
    )

    add(fine_api, "我住在杭州。")

    assert len(fake_llm.calls("profile")) == 2  # asked once more, then given up
    assert set(values(fine_api).values()) == {""}
    [fact] = fine_api.ok("/get/memory", {"user_id": "u1"})["memory_detail_list"]
    assert fact["memory_value"] == "[user观点]用户住在杭州。"


def test_a_number_is_kept_as_its_text_and_an_unusable_update_leaves_the_others(
    fine_api: Api, fake_llm: FakeLLM
) -> None:
    """Models write an age or a count as a number: kept as its text. An update the model got
    wrong (no path) is left out, not the whole fill with it."""
    setup(fine_api)
    fake_llm.script(
        {
            "profile": reply_json(
                {
                    "updates": [
                        {"path": "基本信息.职业", "new_value": 996},
                        {"new_value": "没有路径"},
                        {"path": "基本信息.所在城市", "new_value": "成都"},
                        {"path": "兴趣爱好.爱好", "new_value": {"nested": True}},
                    ]
                }
            )
        }
    )

    add(fine_api, "我在成都工作，公司是996。")

    assert values(fine_api) == {
        "基本信息.姓名": "",
        "基本信息.职业": "996",
        "基本信息.所在城市": "成都",
        "兴趣爱好.爱好": "",
    }
    assert len(fake_llm.calls("profile")) == 1  # usable as it was: not asked again
