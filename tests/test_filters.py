"""The filter grammar of API.md on search: each field and operator, combinations, errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.api import Api

ONE_DAY_MS = 86_400_000


@pytest.fixture
def stored(api: Api) -> Api:
    def add(conversation: str, text: str, **extra: Any) -> None:
        api.ok(
            "/add/message",
            {
                "user_id": "u1",
                "conversation_id": conversation,
                "messages": [{"role": "user", "content": text}],
                **extra,
            },
        )

    add(
        "trip",
        "I booked the Hilton in Lisbon.",
        agent_id="travel",
        tags=["travel"],
        info={"source": "web", "priority": 3, "labels": ["hotel", "europe"]},
    )
    add(
        "trip2",
        "Our flight to Lisbon leaves at 9.",
        agent_id="travel",
        app_id="mobile",
        info={"source": "app", "priority": 7},
    )
    add(
        "food",
        "Lisbon has the best pastel de nata.",
        agent_id="food",
        tags=["food"],
        info={"source": "web", "priority": "high"},
    )
    return api


def found(api: Api, where: Any) -> list[str]:
    data = api.ok(
        "/search/memory",
        {"user_id": "u1", "query": "Lisbon", "memory_limit_number": 25, "filter": where},
    )
    return sorted(m["conversation_id"] for m in data["memory_detail_list"])


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"and": [{"agent_id": "travel"}]}, ["trip", "trip2"]),
        ({"and": [{"app_id": "mobile"}]}, ["trip2"]),
        ({"and": [{"conversation_id": "food"}]}, ["food"]),
        ({"and": [{"memory_type": "UserMemory"}]}, ["food", "trip", "trip2"]),
        ({"and": [{"memory_type": "LongTermMemory"}]}, []),
        ({"and": [{"tags": {"contains": "travel"}}]}, ["trip"]),
        ({"and": [{"tags": "food"}]}, ["food"]),
        ({"and": [{"source": "web"}]}, ["food", "trip"]),
        ({"and": [{"priority": 7}]}, ["trip2"]),
        ({"and": [{"priority": {"gte": 3}}]}, ["trip", "trip2"]),
        ({"and": [{"priority": {"gt": 3}}]}, ["trip2"]),
        ({"and": [{"priority": {"lt": 7}}]}, ["trip"]),
        ({"and": [{"priority": {"lte": 7}}, {"source": "app"}]}, ["trip2"]),
        ({"and": [{"labels": {"contains": "europe"}}]}, ["trip"]),
        ({"and": [{"priority": "high"}]}, ["food"]),
        ({"and": [{"no_such_key": "x"}]}, []),
        ({"or": [{"agent_id": "food"}, {"app_id": "mobile"}]}, ["food", "trip2"]),
        (
            {"and": [{"agent_id": "travel"}, {"or": [{"source": "web"}, {"priority": 7}]}]},
            ["trip", "trip2"],
        ),
        ({"agent_id": "food"}, ["food"]),  # a bare condition object
        (None, ["food", "trip", "trip2"]),
        ({}, ["food", "trip", "trip2"]),
    ],
)
def test_filter(stored: Api, where: Any, expected: list[str]) -> None:
    assert found(stored, where) == expected


def test_time_filters_take_epoch_ms_and_iso_strings(stored: Api) -> None:
    now_ms = int(time.time() * 1000)
    assert found(stored, {"and": [{"create_time": {"gte": now_ms - ONE_DAY_MS}}]}) == [
        "food",
        "trip",
        "trip2",
    ]
    assert found(stored, {"and": [{"create_time": {"lt": now_ms - ONE_DAY_MS}}]}) == []
    assert found(stored, {"and": [{"update_time": {"gt": "2020-01-01T00:00:00Z"}}]}) == [
        "food",
        "trip",
        "trip2",
    ]
    assert found(stored, {"and": [{"create_time": {"lte": "2020-01-01"}}]}) == []


def test_a_memory_matches_its_own_time_as_shown(stored: Api) -> None:
    """Times are shown in whole milliseconds and stored in microseconds; a filter compares the
    time as shown. A memory is at most and at least its own create_time, neither before nor
    after it; a date-time string half a millisecond later is after it. (Times compare with
    gte/gt/lte/lt only.)"""
    data = stored.ok(
        "/search/memory",
        {"user_id": "u1", "query": "Lisbon", "filter": {"conversation_id": "food"}},
    )
    [memory] = data["memory_detail_list"]
    shown = memory["create_time"]
    later = (datetime.fromtimestamp(shown / 1000, UTC) + timedelta(microseconds=500)).isoformat()
    cases = [(shown, ("lte", "gte"), ("lt", "gt")), (later, ("lte", "lt"), ("gte", "gt"))]
    for moment, matching, not_matching in cases:
        for op in (*matching, *not_matching):
            where = {"and": [{"conversation_id": "food"}, {"create_time": {op: moment}}]}
            assert found(stored, where) == (["food"] if op in matching else []), (op, moment)
    listed = stored.ok(
        "/get/memory", {"user_id": "u1", "filter": {"create_time": {"lte": shown}}, "size": 50}
    )
    assert memory["id"] in [m["id"] for m in listed["memory_detail_list"]]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"and": [{"agent_id": {"like": "tr%"}}]}, "unknown operator 'like' on 'agent_id'"),
        ({"and": {"agent_id": "travel"}}, '"and" takes a non-empty list of conditions'),
        ({"and": []}, '"and" takes a non-empty list of conditions'),
        ({"or": ["agent_id"]}, 'each item of "or" must be a condition object'),
        ({"and": [{"agent_id": {"contains": "t"}}]}, "'contains' applies to tags"),
        ({"and": [{"agent_id": 5}]}, "'agent_id' is text"),
        ({"and": [{"create_time": "yesterday"}]}, "compare 'create_time' with gte/gt/lte/lt"),
        ({"and": [{"create_time": {"gte": "yesterday"}}]}, "is not a date-time"),
        ({"and": [{"tags": {"gte": "a"}}]}, "tags support equality and 'contains' only"),
        ({"and": [{"priority": {}}]}, "'priority' has an empty condition"),
        ({"and": [{"priority": {"gte": None}}]}, "'priority' gte needs a value"),
        (
            {"and": [{"and": [{"and": [{"and": [{"and": [{"and": [{"a": 1}]}]}]}]}]}]},
            "nested deeper than 6 levels",
        ),
    ],
)
def test_bad_filters_get_clear_errors(stored: Api, where: Any, message: str) -> None:
    got = stored.fails(
        "/search/memory", {"user_id": "u1", "query": "Lisbon", "filter": where}, 400, 40000
    )
    assert message in got


def test_a_filter_that_is_not_an_object(stored: Api) -> None:
    got = stored.fails(
        "/search/memory", {"user_id": "u1", "query": "Lisbon", "filter": ["agent_id"]}, 400, 40000
    )
    assert "filter" in got


def _add(api: Api, user: str, text: str, info: dict[str, Any]) -> None:
    api.ok(
        "/add/message",
        {
            "user_id": user,
            "conversation_id": "c",
            "messages": [{"role": "user", "content": text}],
            "info": info,
        },
    )


def _listed(api: Api, user: str, where: Any) -> list[str]:
    return _texts(api.ok("/get/memory", {"user_id": user, "filter": where, "size": 50}))


def _texts(data: Any) -> list[str]:
    return sorted(m["memory_value"].removeprefix("user: ") for m in data["memory_detail_list"])


def test_hardening_01_an_or_item_with_several_fields_means_all_of_them(api: Api) -> None:
    _add(api, "u", "北京一", {"x": 1, "y": 2})
    _add(api, "u", "北京二", {"x": 1, "y": 3})
    _add(api, "u", "北京三", {"x": 9, "y": 2})
    assert _listed(api, "u", {"or": [{"x": 1, "y": 2}]}) == ["北京一"]
    assert _listed(api, "u", {"or": [{"x": {"gte": 2, "lte": 5}}]}) == []
    assert _listed(api, "u", {"or": [{"x": 1, "y": 3}, {"x": 9}]}) == ["北京三", "北京二"]
    assert _listed(api, "u", {"or": [{"and": [{"x": 1}], "y": 3}]}) == ["北京二"]
    searched = api.ok(
        "/search/memory", {"user_id": "u", "query": "北京", "filter": {"or": [{"x": 9, "y": 3}]}}
    )
    assert searched["memory_detail_list"] == []
    deleted = api.ok("/delete/memory", {"user_id": "u", "filter": {"or": [{"x": 1, "y": 2}]}})
    assert deleted["deleted_count"] == 1
    assert _listed(api, "u", {"x": {"gte": 0}}) == ["北京三", "北京二"]


def _post_raw(api: Api, path: str, body: str) -> Any:
    response = api.http.post(path, content=body, headers={"Content-Type": "application/json"})
    return Api.data_of(response)


def test_hardening_08_numbers_compare_exactly_and_only_with_numbers(api: Api) -> None:
    _add(api, "other", "别人的", {"n": "1e999999"})  # a string: not a number, and not numeric
    _add(api, "u", "零", {"n": 0})
    _add(api, "u", "五", {"n": 5})
    _add(api, "u", "大", {"n": 10**30})
    _add(api, "u", "文字七", {"n": "7"})
    _add(api, "u", "真", {"n": True})
    _add(api, "u", "溢出", {"n": "1e999999"})
    assert _listed(api, "u", {"n": {"gte": 1}}) == ["五", "大"]
    assert _listed(api, "other", {"n": {"gte": 1}}) == []
    assert _listed(api, "u", {"n": {"lt": 10**30}}) == ["五", "零"]
    assert _listed(api, "u", {"n": {"gte": 10**30}}) == ["大"]
    assert _listed(api, "u", {"n": 10**30}) == ["大"]
    assert _listed(api, "u", {"n": {"gt": 10**400}}) == []
    assert _listed(api, "u", {"n": {"gt": -(10**400)}}) == ["五", "大", "零"]
    # Exact decimals: 1e-200000 is not 0, and 10**30 + 0.5 is above 10**30.
    for where, expected in [
        ('{"n": {"gte": 1e-200000}}', ["五", "大"]),
        ('{"n": {"lt": 1e-200000}}', ["零"]),
        ('{"n": {"lte": -1e-200000}}', []),
        ('{"n": 1e-200000}', []),
        ('{"n": {"lt": 1000000000000000000000000000000.5}}', ["五", "大", "零"]),
        ('{"n": {"eq": 1000000000000000000000000000000.0}}', ["大"]),
        ('{"n": {"gt": 4.99999999999999999999999999999999999}}', ["五", "大"]),
        ('{"n": {"lt": 1e-16384}}', ["零"]),
    ]:
        data = _post_raw(api, "/get/memory", f'{{"user_id": "u", "size": 50, "filter": {where}}}')
        assert _texts(data) == expected, where
    response = api.http.post(
        "/get/memory",
        content='{"user_id": "u", "filter": {"n": {"lt": 1e-99999999999999999999}}}',
        headers={"Content-Type": "application/json"},
    )
    assert "out of range" in Api.error_of(response, 400, 40000)
    # A string compares as text, with string operands only; a boolean has no order.
    assert _listed(api, "u", {"n": {"gte": "1"}}) == ["文字七", "溢出"]
    assert _listed(api, "u", {"n": True}) == ["真"]
    assert _listed(api, "u", {"n": "7"}) == ["文字七"]
    message = api.fails("/get/memory", {"user_id": "u", "filter": {"n": {"gt": True}}}, 400, 40000)
    assert "not a boolean" in message


def test_equality_with_an_object_is_json_equality_not_containment(api: Api) -> None:
    _add(api, "u", "第一条", {"meta": {"city": "北京"}})
    _add(api, "u", "第二条", {"meta": {"city": "北京", "vip": True}})
    _add(api, "u", "第三条", {"meta": {}})
    assert _listed(api, "u", {"meta": {"eq": {"city": "北京"}}}) == ["第一条"]
    assert _listed(api, "u", {"meta": {"eq": {"vip": True, "city": "北京"}}}) == ["第二条"]
    assert _listed(api, "u", {"meta": {"eq": {}}}) == ["第三条"]
    assert _listed(api, "u", {"meta": {"eq": {"city": "上海"}}}) == []
    deleted = api.ok(
        "/delete/memory", {"user_id": "u", "filter": {"meta": {"eq": {"city": "北京"}}}}
    )
    assert deleted["deleted_count"] == 1
    assert _listed(api, "u", {"meta": {"eq": {"city": "北京", "vip": True}}}) == ["第二条"]
