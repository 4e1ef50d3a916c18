"""The filter grammar, checked by property: random filter trees evaluated by Postgres (through
search/memory, get/memory and delete/memory) and by the plain Python reading of the grammar
(docs/search.md) below, over the same rows, must select the same memories.

The rows mix what ``info`` can hold (integers, decimals, a huge integer, numeric-looking strings,
booleans, lists, null, objects, missing keys) with tags, agents, apps, conversations and both
fast-mode memory types. Numbers in filters are sent as written (``1e-200000``, ``10**400``), so
what is checked is exact decimal comparison.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tests.support.api import Api
from tests.support.database import new_api_key
from tests.support.service import ServiceThread

ROWS: list[dict[str, Any]] = [
    {"agent_id": "a1", "app_id": "web", "conversation_id": "c1", "tags": ["t1"],
     "info": {"n": 1, "s": "apple", "b": True, "l": ["x", "y"], "x": 1, "y": 2}},
    {"agent_id": "a1", "conversation_id": "c2", "tags": ["t1", "t2"],
     "info": {"n": 2.5, "s": "Banana", "b": False, "l": ["y"], "x": 1, "y": 3}},
    {"agent_id": "a2", "app_id": "app", "conversation_id": "c1", "tags": [],
     "info": {"n": -3, "s": "5", "l": [], "x": 9, "y": 2}},
    {"agent_id": "甲", "conversation_id": "对话", "tags": ["标签"],
     "info": {"n": "1e999999", "s": "香蕉", "x": 1}},
    {"conversation_id": "c2", "tags": ["t2"],
     "info": {"n": 10**30, "s": "", "b": "true", "y": 2}},
    {"agent_id": "a2", "app_id": "web", "conversation_id": "对话",
     "info": {"n": 0, "s": 7, "l": "x"}},
    {"agent_id": "a1", "conversation_id": "c1", "tags": ["t1", "标签"],
     "info": {"n": 1e-7, "s": ["apple"], "b": 1, "l": [1, 2.5, True]}},
    {"app_id": "app", "conversation_id": "c3",
     "info": {"n": True, "s": None, "x": 2.5}},
    {"agent_id": "a2", "conversation_id": "c3", "tags": ["t2"], "info": {}},
    {"agent_id": "甲", "conversation_id": "c1",
     "info": {"n": [1, 2], "s": {"k": "v"}, "l": ["香蕉", "x"], "x": -0.0}},
    {"agent_id": "a1", "app_id": "web", "conversation_id": "c2",
     "info": {"n": 0.1, "s": "apple pie", "y": 2.5e-5}},
    {"agent_id": "a2", "conversation_id": "c2",
     "info": {"s": {"k": "v", "z": [1, 2]}, "l": {}, "x": 1}},
]  # fmt: skip

TEXT_FIELDS = {
    "agent_id": ["a1", "a2", "甲", "b", ""],
    "app_id": ["web", "app", "x"],
    "conversation_id": ["c1", "c2", "c3", "对话"],
    "memory_type": ["UserMemory", "LongTermMemory"],
}
INFO_KEYS = ["n", "s", "b", "l", "x", "y", "zz"]
NUMBERS: list[Any] = [
    0,
    1,
    -3,
    2,
    10**30,
    10**30 + 1,
    10**400,
    -(10**400),
    Decimal("2.5"),
    Decimal("0.1"),
    Decimal("1e-7"),
    Decimal("2.5e-5"),
    Decimal("1e-200000"),
    Decimal("-1e-200000"),
    Decimal("2.49999999999999999999999999"),
    Decimal("-0.0"),
]
STRINGS = ["apple", "Banana", "5", "7", "", "香蕉", "a", "z", "1e999999", "x", "true"]
LISTS: list[list[Any]] = [["x"], ["y", "x"], [], ["香蕉"], [1], [Decimal("2.5")], [True]]
OBJECTS: list[dict[str, Any]] = [{"k": "v"}, {}, {"k": "v", "z": [1, 2]}, {"z": [2, 1], "k": "v"}]
TAGS = ["t1", "t2", "标签", "mode:fast", "zz"]
FAR_PAST, FAR_FUTURE = 946684800000, "2100-01-01T00:00:00Z"
QUERY = "记录 record"


# The reference: the grammar of docs/search.md read plainly.


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _same_scalar(stored: Any, wanted: Any) -> bool:
    """JSON equality of two scalars: numbers by value, no number equal to a boolean."""
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return isinstance(stored, bool) and isinstance(wanted, bool) and stored == wanted
    if _number(stored) is not None and _number(wanted) is not None:
        return _number(stored) == _number(wanted)
    return type(stored) is type(wanted) and stored == wanted


def _same(stored: Any, wanted: Any) -> bool:
    """JSON equality: objects with the same keys and equal values, lists equal item by item in
    order, scalars as ``_same_scalar``."""
    if isinstance(wanted, dict) or isinstance(stored, dict):
        return (
            isinstance(wanted, dict)
            and isinstance(stored, dict)
            and stored.keys() == wanted.keys()
            and all(_same(stored[key], wanted[key]) for key in wanted)
        )
    if isinstance(wanted, list) or isinstance(stored, list):
        return (
            isinstance(wanted, list)
            and isinstance(stored, list)
            and len(stored) == len(wanted)
            and all(_same(s, w) for s, w in zip(stored, wanted, strict=True))
        )
    return _same_scalar(stored, wanted)


def _contained(stored: Any, wanted: Any) -> bool:
    """Equality with ``info``'s value as docs/search.md says: an object equals an object (JSON
    equality, not one holding more keys); a list holds every wanted item among its scalars; a
    scalar is equal; a list never equals a scalar, nor the reverse."""
    if isinstance(wanted, dict):
        return _same(stored, wanted)
    if isinstance(wanted, list):
        if not isinstance(stored, list):
            return False
        scalars = [item for item in stored if not isinstance(item, list | dict)]
        return all(any(_same_scalar(s, w) for s in scalars) for w in wanted)
    if stored is None or isinstance(stored, list | dict):
        return False
    return _same_scalar(stored, wanted)


def _ordered(stored: Any, op: str, wanted: Any) -> bool:
    if op == "gt":
        return bool(stored > wanted)
    if op == "gte":
        return bool(stored >= wanted)
    if op == "lt":
        return bool(stored < wanted)
    return bool(stored <= wanted)


def _condition(row: dict[str, Any], field: str, op: str, wanted: Any) -> bool:
    if field in TEXT_FIELDS:
        value = row.get(field)
        if value is None:
            return False
        return bool(value == wanted) if op == "eq" else _ordered(value, op, wanted)
    if field == "tags":
        return wanted in row["tags"]
    if field == "create_time":
        moment = wanted if isinstance(wanted, int) else 4102444800000
        return _ordered(row["create_time"], op, moment)
    info = row["info"]
    if field not in info:
        return False
    stored = info[field]
    if op == "eq":
        return _contained(stored, wanted)
    if op == "contains":
        return _contained(stored, [wanted])
    if isinstance(wanted, str):  # strings with strings, by code point
        return isinstance(stored, str) and _ordered(stored, op, wanted)
    number = _number(stored)  # numbers with numbers, exactly
    return number is not None and _ordered(number, op, Decimal(wanted))


def matches(node: dict[str, Any], row: dict[str, Any]) -> bool:
    """Every entry of an object must hold: fields, operators, "and" and "or" alike."""
    for key, value in node.items():
        if key == "and":
            held = all(matches(item, row) for item in value)
        elif key == "or":
            held = any(matches(item, row) for item in value)
        elif isinstance(value, dict):
            held = all(_condition(row, key, op, wanted) for op, wanted in value.items())
        else:
            held = _condition(row, key, "eq", value)
        if not held:
            return False
    return True


# Random filter trees.


def _operators(field: str) -> st.SearchStrategy[dict[str, Any]]:
    if field in TEXT_FIELDS:
        operand: st.SearchStrategy[Any] = st.sampled_from(TEXT_FIELDS[field])
        return st.dictionaries(st.sampled_from(["eq", "gt", "gte", "lt", "lte"]), operand,
                               min_size=1, max_size=2)  # fmt: skip
    if field == "tags":
        return st.dictionaries(st.sampled_from(["eq", "contains"]), st.sampled_from(TAGS),
                               min_size=1, max_size=1)  # fmt: skip
    if field == "create_time":
        return st.dictionaries(
            st.sampled_from(["gt", "gte", "lt", "lte"]),
            st.sampled_from([FAR_PAST, FAR_FUTURE]),
            min_size=1,
            max_size=2,
        )
    scalars = st.sampled_from(NUMBERS) | st.sampled_from(STRINGS)
    by_op = {
        "eq": scalars | st.booleans() | st.sampled_from(LISTS) | st.sampled_from(OBJECTS),
        "contains": scalars | st.booleans(),
        "gt": scalars,
        "gte": scalars,
        "lt": scalars,
        "lte": scalars,
    }
    ops = st.lists(st.sampled_from(list(by_op)), min_size=1, max_size=2, unique=True)
    return ops.flatmap(lambda chosen: st.fixed_dictionaries({op: by_op[op] for op in chosen}))


def _field_condition(field: str) -> st.SearchStrategy[Any]:
    """A bare value (equality) where the grammar allows one, or an operator object."""
    conditions = _operators(field)
    if field == "create_time":
        return conditions
    if field == "tags":
        return st.sampled_from(TAGS) | conditions
    if field in TEXT_FIELDS:
        return st.sampled_from(TEXT_FIELDS[field]) | conditions
    bare = st.sampled_from(NUMBERS) | st.sampled_from(STRINGS) | st.booleans()
    return bare | st.sampled_from(LISTS) | conditions


FIELDS = [*TEXT_FIELDS, "tags", "create_time", *INFO_KEYS, *INFO_KEYS]
leaves = st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True).flatmap(
    lambda fields: st.fixed_dictionaries({f: _field_condition(f) for f in fields})
)


def _extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    items = st.lists(children, min_size=1, max_size=3)
    combined = st.builds(lambda c, xs: {c: xs}, st.sampled_from(["and", "or"]), items)
    # An object that mixes fields with a combinator (or both combinators).
    mixed = st.builds(lambda leaf, xs: {**leaf, "or": xs}, leaves, items)
    both = st.builds(lambda a, o: {"and": a, "or": o}, items, items)
    return combined | mixed | both


def _depth(node: Any) -> int:
    if not isinstance(node, dict):
        return 0
    nested = [_depth(item) for key in ("and", "or") for item in node.get(key, [])]
    return 1 + max(nested, default=0)


filters = st.recursive(leaves, _extend, max_leaves=8).filter(lambda tree: _depth(tree) <= 5)


# The service, with the rows stored through the API.


def dumps(value: Any) -> str:
    """JSON with numbers exactly as written (``Decimal('1E-200000')`` as ``1E-200000``)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    return "{" + ",".join(f"{dumps(k)}:{dumps(v)}" for k, v in value.items()) + "}"


class Rows:
    """The rows of one user, each known by its number in ROWS."""

    def __init__(self, api: Api, user: str) -> None:
        self.api, self.user = api, user
        self.added = 0

    def add(self, index: int) -> None:
        row = ROWS[index]
        # Numbered: the service takes an identical add for a retry and stores it once.
        self.added += 1
        messages = [{"role": "user", "content": f"第{index}条记录 record {index} ({self.added})"}]
        if index % 3 == 0:  # user and assistant: LongTermMemory
            messages.append({"role": "assistant", "content": f"好的 noted {index}"})
        fields = {key: row[key] for key in ("agent_id", "app_id", "tags", "info") if key in row}
        self.api.ok(
            "/add/message",
            {
                "user_id": self.user,
                "conversation_id": row["conversation_id"],
                "messages": messages,
                **fields,
            },
        )

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.api.http.post(
            path,
            content=dumps({"user_id": self.user, **body}).encode(),
            headers={"Content-Type": "application/json"},
        )
        return Api.data_of(response)

    def listed(self, where: dict[str, Any] | None = None) -> dict[int, dict[str, Any]]:
        """The rows as stored (by number), with what the server decides: tags, type, time."""
        data = self.post("/get/memory", {"filter": where, "size": 50})
        assert data["total"] == len(data["memory_detail_list"])
        return {_index(m): m for m in data["memory_detail_list"]}

    def expected(self, where: dict[str, Any]) -> set[int]:
        stored = self.listed()
        return {i for i, m in stored.items() if matches(where, {**ROWS[i], **_served(m)})}


def _index(memory: dict[str, Any]) -> int:
    found = re.search(r"record (\d+)", memory["memory_value"])
    assert found is not None
    return int(found.group(1))


def _served(memory: dict[str, Any]) -> dict[str, Any]:
    return {key: memory[key] for key in ("tags", "memory_type", "create_time")}


@pytest.fixture(scope="module")
def project(service: ServiceThread, pg_url: str) -> Iterator[Api]:
    with Api(service.base_url, new_api_key(pg_url)) as api:
        yield api


@pytest.fixture(scope="module")
def kept(project: Api) -> Rows:
    rows = Rows(project, "kept")
    for index in range(len(ROWS)):
        rows.add(index)
    return rows


@pytest.fixture(scope="module")
def deleted(project: Api) -> Rows:
    rows = Rows(project, "deleted")
    for index in range(len(ROWS)):
        rows.add(index)
    return rows


# Each example is a few HTTP requests: no deadline; nothing kept in a local example database.
PROPERTY = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@settings(PROPERTY, max_examples=100)
@given(where=filters)
def test_search_and_get_select_what_the_grammar_says(kept: Rows, where: dict[str, Any]) -> None:
    note(f"filter: {dumps(where)}")
    expected = kept.expected(where)
    assert set(kept.listed(where)) == expected
    found = kept.post(
        "/search/memory", {"query": QUERY, "memory_limit_number": 25, "filter": where}
    )
    assert {_index(m) for m in found["memory_detail_list"]} == expected


@settings(PROPERTY, max_examples=30)
@given(where=filters)
def test_delete_removes_what_the_grammar_says(deleted: Rows, where: dict[str, Any]) -> None:
    note(f"filter: {dumps(where)}")
    expected = deleted.expected(where)
    assert deleted.post("/delete/memory", {"filter": where})["deleted_count"] == len(expected)
    assert set(deleted.listed()) == set(range(len(ROWS))) - expected
    for index in sorted(expected):  # put them back for the next example
        deleted.add(index)
