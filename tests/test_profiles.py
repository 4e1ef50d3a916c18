"""Profiles over HTTP: templates, bind, edit, delete, their limits and errors, projects kept
apart, and the profiles get/memory and search/memory return (docs/profiles.md)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.database import fresh_database, new_api_key, sql
from tests.support.service import ServiceThread, make_settings

TREE: dict[str, Any] = {
    "基本信息": {
        "姓名": {"value": "", "algorithm_updatable": False},
        "职业": {"value": "", "algorithm_updatable": True},
        "所在城市": {"value": "", "algorithm_updatable": True},
    },
    "服务偏好": {"联系时段": {"value": "工作日白天", "algorithm_updatable": True}},
}


def add_template(api: Api, tree: dict[str, Any] | None = None, name: str = "客服用户画像") -> str:
    data = api.ok("/add/profile_template", {"name": name, "metadata": tree or TREE})
    template: str = data["profile_template_id"]
    assert template.startswith("tpl_")
    return template


def bind(api: Api, template: str, user: str = "张三") -> None:
    data = api.ok(
        "/bind/profile_template",
        {"bind_list": [{"user_id": user, "profile_template_id": template}]},
    )
    assert data == {"success": True}


def profiles_of(api: Api, user: str = "张三") -> list[dict[str, Any]]:
    data = api.ok("/get/memory", {"user_id": user})
    found: list[dict[str, Any]] = data["profile_detail_list"]
    return found


def test_a_template_round_trips_with_chinese_names(api: Api) -> None:
    template = add_template(api)

    got = api.ok("/get/profile_template", {"profile_template_id": template})["profile_template"]

    assert got["name"] == "客服用户画像"
    assert got["metadata"] == TREE
    assert list(got["metadata"]["基本信息"]) == ["姓名", "职业", "所在城市"]  # the client's order
    assert got["instance_count"] == 0
    listed = api.ok("/list/profile_template", {"page": 1, "size": 10})
    assert [t["profile_template_id"] for t in listed["profile_templates"]] == [template]
    assert (listed["total"], listed["pages"], listed["current"]) == (1, 1, 1)


def test_fields_without_a_category_and_a_default_setting(api: Api) -> None:
    template = add_template(api, {"昵称": {"value": "小张"}})
    got = api.ok("/get/profile_template", {"profile_template_id": template})["profile_template"]
    assert got["metadata"] == {"昵称": {"value": "小张", "algorithm_updatable": True}}


def test_bind_edit_and_delete_a_profile(api: Api, pg_url: str) -> None:
    template = add_template(api)
    bind(api, template)
    bind(api, template)  # binding again keeps the one profile

    [profile] = profiles_of(api)
    assert profile["profile_template_id"] == template
    assert profile["user_id"] == "张三"
    assert profile["properties"] == TREE

    edited = api.ok(
        "/edit/profile",
        {
            "user_id": "张三",
            "profile_template_id": template,
            "metadata": {
                "基本信息": {
                    "所在城市": {"value": "上海", "algorithm_updatable": False},
                    "姓名": {"value": "张三"},
                },
                "兴趣爱好": {"爱好": {"value": "露营、读科幻小说"}},
            },
            "remove_fields": ["服务偏好.联系时段"],
        },
    )
    assert edited == {"success": True}

    [profile] = profiles_of(api)
    assert profile["properties"] == {
        "基本信息": {
            "姓名": {"value": "张三", "algorithm_updatable": False},
            "职业": {"value": "", "algorithm_updatable": True},
            "所在城市": {"value": "上海", "algorithm_updatable": False},
        },
        "兴趣爱好": {"爱好": {"value": "露营、读科幻小说", "algorithm_updatable": True}},
    }
    history = sql(
        pg_url,
        "SELECT path, actor, old_value, new_value FROM profile_history "
        "WHERE profile_id = CAST(:id AS uuid) ORDER BY id",
        id=profile["id"],
    )
    assert history == [
        {
            "path": "服务偏好.联系时段",
            "actor": "client",
            "old_value": "工作日白天",
            "new_value": None,
        },
        {"path": "基本信息.所在城市", "actor": "client", "old_value": "", "new_value": "上海"},
        {"path": "基本信息.姓名", "actor": "client", "old_value": "", "new_value": "张三"},
        {
            "path": "兴趣爱好.爱好",
            "actor": "client",
            "old_value": None,
            "new_value": "露营、读科幻小说",
        },
    ]
    # The template is not changed by an edit of one profile.
    got = api.ok("/get/profile_template", {"profile_template_id": template})["profile_template"]
    assert got["metadata"] == TREE
    assert got["instance_count"] == 1

    assert api.ok("/delete/profile", {"user_id": "张三", "profile_template_id": template}) == {
        "success": True
    }
    assert profiles_of(api) == []
    # Deleting it again, as a retrying client would, succeeds and does nothing.
    api.ok("/delete/profile", {"user_id": "张三", "profile_template_id": template})


def test_search_lists_filled_fields_when_the_profile_view_is_asked_for(api: Api) -> None:
    template = add_template(api)
    bind(api, template, "李四")
    api.ok(
        "/edit/profile",
        {
            "user_id": "李四",
            "profile_template_id": template,
            "metadata": {
                "基本信息": {"职业": {"value": "产品经理"}, "所在城市": {"value": "杭州"}}
            },
        },
    )

    plain = api.ok("/search/memory", {"user_id": "李四", "query": "这个用户是做什么工作的"})
    asked = api.ok(
        "/search/memory",
        {"user_id": "李四", "query": "这个用户是做什么工作的", "include_memory_view": ["profile"]},
    )

    assert plain["profile_detail_list"] == []
    paths = [item["profile_path"] for item in asked["profile_detail_list"]]
    assert paths == ["基本信息.职业", "基本信息.所在城市", "服务偏好.联系时段"]
    job = asked["profile_detail_list"][0]
    assert job["memory"] == "基本信息.职业: 产品经理"
    assert job["memory_type"] == "ProfileMemory"
    assert (job["profile_category"], job["profile_field"]) == ("基本信息", "职业")
    assert job["template_id"] == template
    assert job["algorithm_updatable"] is True
    # get/memory shows profiles unless include_memory_view leaves "profile" out.
    facts_only = api.ok(
        "/get/memory", {"user_id": "李四", "include_memory_view": ["detail_factual"]}
    )
    assert facts_only["profile_detail_list"] == []


def test_a_template_update_is_carried_to_its_profiles(api: Api) -> None:
    template = add_template(api)
    bind(api, template, "王五")
    api.ok(
        "/edit/profile",
        {
            "user_id": "王五",
            "profile_template_id": template,
            "metadata": {"基本信息": {"职业": {"value": "医生"}, "所在城市": {"value": "成都"}}},
        },
    )
    new_tree = {
        "基本信息": {
            "姓名": {"value": "", "algorithm_updatable": False},
            "职业": {"value": "", "algorithm_updatable": True},  # unchanged: 医生 stays
            "所在城市": {"value": "", "algorithm_updatable": False},  # setting changed: overwrites
            "年龄段": {"value": "", "algorithm_updatable": True},  # new
        }
    }  # 服务偏好 removed

    data = api.ok(
        "/update/profile_template",
        {"profile_template_id": template, "name": "新画像", "metadata": new_tree},
    )

    assert data == {"success": True, "profile_template_id": template, "affected_instances": 1}
    [profile] = profiles_of(api, "王五")
    assert profile["properties"] == {
        "基本信息": {
            "姓名": {"value": "", "algorithm_updatable": False},
            "职业": {"value": "医生", "algorithm_updatable": True},
            "所在城市": {"value": "", "algorithm_updatable": False},
            "年龄段": {"value": "", "algorithm_updatable": True},
        }
    }
    deleted = api.ok("/delete/profile_template", {"profile_template_id": template})
    assert deleted == {"success": True, "profile_template_id": template, "deleted_instances": 1}
    assert profiles_of(api, "王五") == []
    api.fails("/get/profile_template", {"profile_template_id": template}, 404, 40001)


def test_bad_requests_are_refused_with_clear_errors(api: Api) -> None:
    template = add_template(api)
    assert "metadata" in api.fails(
        "/add/profile_template", {"name": "空", "metadata": {}}, 400, 40002
    )
    deep = {"一": {"二": {"三": {"四": {"value": ""}}}}}
    assert "deeper than 3" in api.fails(
        "/add/profile_template", {"name": "深", "metadata": deep}, 400, 40000
    )
    assert "'.'" in api.fails(
        "/add/profile_template", {"name": "点", "metadata": {"a.b": {"value": ""}}}, 400, 40000
    )
    assert "must be a field object" in api.fails(
        "/add/profile_template", {"name": "坏", "metadata": {"职业": "医生"}}, 400, 40000
    )
    api.fails("/add/profile_template", {"name": "  ", "metadata": TREE}, 400, 40002)
    both = {"基本信息": {"职业": {"value": "医生", "细分": {"value": "儿科"}}}}
    assert "holds fields too (细分)" in api.fails(
        "/add/profile_template", {"name": "混", "metadata": both}, 400, 40000
    )
    edit = {"profile_template_id": template, "metadata": {"职业": {"value": "x"}}}
    assert "bind it first" in api.fails("/edit/profile", {**edit, "user_id": "无人"}, 404, 40001)
    assert "not both" in api.fails(
        "/edit/profile", {**edit, "user_id": "a", "agent_id": "b"}, 400, 40000
    )
    api.fails("/edit/profile", edit, 400, 40002)
    api.fails(
        "/bind/profile_template",
        {"bind_list": [{"user_id": "u", "profile_template_id": "tpl_nope"}]},
        404,
        40001,
    )
    too_many = [{"user_id": f"u{i}", "profile_template_id": template} for i in range(21)]
    api.fails("/bind/profile_template", {"bind_list": too_many}, 400, 40000)


def test_limits_answer_413_and_400(api: Api) -> None:
    many = {f"字段{i}": {"value": ""} for i in range(101)}
    assert "more than 100" in api.fails(
        "/add/profile_template", {"name": "多", "metadata": many}, 413, 40305
    )
    long_value = {"简介": {"value": "长" * 1001}}
    assert "1000 characters" in api.fails(
        "/add/profile_template", {"name": "长", "metadata": long_value}, 413, 40305
    )
    template = add_template(api, {f"字段{i}": {"value": ""} for i in range(100)})
    bind(api, template, "赵六")
    assert "more than 100" in api.fails(
        "/edit/profile",
        {
            "user_id": "赵六",
            "profile_template_id": template,
            "metadata": {"多一个": {"value": "x"}},
        },
        413,
        40305,
    )


@pytest.fixture(scope="module")
def small(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    own_url = fresh_database(pg_url)
    settings = make_settings(
        own_url, tmp_path_factory.mktemp("small-profiles"), profiles={"max_templates": 2}
    )
    running = ServiceThread(settings)
    running.start()
    with Api(running.base_url, new_api_key(own_url)) as client:
        yield client
    running.stop()


def test_templates_per_project_are_limited(small: Api) -> None:
    add_template(small)
    add_template(small)
    assert "MEMOS_PROFILES__MAX_TEMPLATES" in small.fails(
        "/add/profile_template", {"name": "第三个", "metadata": TREE}, 400, 40000
    )


def test_another_project_cannot_reach_templates_or_profiles(
    api: Api, service: ServiceThread, pg_url: str
) -> None:
    template = add_template(api)
    bind(api, template, "共享名")
    with Api(service.base_url, new_api_key(pg_url)) as other:
        ref = {"profile_template_id": template}
        other.fails("/get/profile_template", ref, 404, 40001)
        other.fails("/update/profile_template", {**ref, "name": "x", "metadata": TREE}, 404, 40001)
        other.fails("/delete/profile_template", ref, 404, 40001)
        other.fails(
            "/bind/profile_template", {"bind_list": [{**ref, "user_id": "共享名"}]}, 404, 40001
        )
        edit = {**ref, "user_id": "共享名", "metadata": {"基本信息": {"职业": {"value": "黑客"}}}}
        other.fails("/edit/profile", edit, 404, 40001)
        other.fails("/delete/profile", {**ref, "user_id": "共享名"}, 404, 40001)
        assert other.ok("/list/profile_template", {})["profile_templates"] == []
        assert other.ok("/get/memory", {"user_id": "共享名"})["profile_detail_list"] == []
        searched = other.ok(
            "/search/memory",
            {"user_id": "共享名", "query": "职业", "include_memory_view": ["profile"]},
        )
        assert searched["profile_detail_list"] == []
    [profile] = profiles_of(api, "共享名")
    assert profile["properties"] == TREE


def test_an_agent_has_a_profile_of_its_own(api: Api) -> None:
    template = add_template(
        api, {"人设": {"语气": {"value": "温和", "algorithm_updatable": False}}}
    )
    api.ok(
        "/bind/profile_template",
        {"bind_list": [{"agent_id": "客服助手", "profile_template_id": template}]},
    )
    data = api.ok("/get/memory", {"agent_id": "客服助手"})
    [profile] = data["profile_detail_list"]
    assert (profile["agent_id"], profile["user_id"]) == ("客服助手", None)
    assert profiles_of(api, "客服助手") == []  # a user of that name has none
    # Searching by the agent alone, its profile is the one shown.
    found = api.ok(
        "/search/memory",
        {"agent_id": "客服助手", "query": "语气", "include_memory_view": ["profile"]},
    )
    assert [f["memory"] for f in found["profile_detail_list"]] == ["人设.语气: 温和"]


def test_delete_user_removes_their_profiles_and_history(api: Api, pg_url: str) -> None:
    template = add_template(api)
    bind(api, template, "要删除的人")
    api.ok(
        "/edit/profile",
        {
            "user_id": "要删除的人",
            "profile_template_id": template,
            "metadata": {"基本信息": {"职业": {"value": "教师"}}},
        },
    )
    api.ok("/delete/user", {"user_id": "要删除的人"})
    assert profiles_of(api, "要删除的人") == []
    rows = sql(pg_url, "SELECT count(*) AS n FROM profile_history WHERE subject_id = '要删除的人'")
    assert rows == [{"n": 0}]
    # The template stays.
    got = api.ok("/get/profile_template", {"profile_template_id": template})["profile_template"]
    assert got["instance_count"] == 0


def test_concurrent_binds_of_one_user_make_one_profile(
    api: Api, service: ServiceThread, api_key: str
) -> None:
    template = add_template(api)
    body = {"bind_list": [{"user_id": "并发用户", "profile_template_id": template}]}

    def bind_once(_: int) -> int:
        with Api(service.base_url, api_key) as client:
            return client.post("/bind/profile_template", body).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(bind_once, range(8)))

    assert statuses == [200] * 8
    assert len(profiles_of(api, "并发用户")) == 1


def test_a_field_can_be_locked_without_restating_its_value(api: Api, pg_url: str) -> None:
    template = add_template(api, {"基本信息": {"职业": {"algorithm_updatable": True}}})
    bind(api, template, "孙七")
    edit = {"user_id": "孙七", "profile_template_id": template}
    api.ok("/edit/profile", {**edit, "metadata": {"基本信息": {"职业": {"value": "律师"}}}})

    api.ok(
        "/edit/profile",
        {**edit, "metadata": {"基本信息": {"职业": {"algorithm_updatable": False}}}},
    )

    [profile] = profiles_of(api, "孙七")
    assert profile["properties"] == {
        "基本信息": {"职业": {"value": "律师", "algorithm_updatable": False}}
    }
    rows = sql(
        pg_url,
        "SELECT count(*) AS n FROM profile_history WHERE profile_id = CAST(:id AS uuid)",
        id=profile["id"],
    )
    assert rows == [{"n": 1}]  # the value's change; locking alone writes no history
