"""add/feedback: a user's correction of their memories.

Fast mode (no LLM) keeps the feedback as a memory that search ranks above what it corrects; fine
mode (the scripted LLM) updates or archives the contradicted memories, with history rows.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from memos_server.services.search.ordering import Scored, place_corrections
from tests.fake_llm import FakeLLM, Reply, reply_json
from tests.support.api import Api
from tests.support.database import sql
from tests.support.memories import recalled_memory
from tests.support.waiting import wait_until

LIVES_IN_BEIJING = [
    {"role": "user", "content": "我住在北京，每天坐地铁去公司上班。"},
    {"role": "assistant", "content": "好的，我记住了，你住在北京。"},
]
MOVED = "我已经不住北京了，上个月搬到了上海。"
OLD_FACT = "[user观点]用户住在北京，每天坐地铁上班。"
NEW_FACT = "[user观点]用户已于上个月从北京搬到上海居住。"


def add(api: Api, messages: list[dict[str, Any]], conversation: str = "c1") -> dict[str, Any]:
    data: dict[str, Any] = api.ok(
        "/add/message",
        {
            "user_id": "u1",
            "conversation_id": conversation,
            "messages": messages,
            "async_mode": False,
        },
    )
    return data


def feedback(api: Api, content: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = api.ok(
        "/add/feedback",
        {"user_id": "u1", "conversation_id": "c2", "feedback_content": content, **extra},
    )
    return data


def search(api: Api, query: str) -> list[dict[str, Any]]:
    found = api.ok("/search/memory", {"user_id": "u1", "query": query, "memory_limit_number": 25})
    memories: list[dict[str, Any]] = found["memory_detail_list"]
    return memories


def status(api: Api, task_id: str) -> dict[str, Any]:
    [task] = api.ok("/get/status", {"task_id": task_id})
    result: dict[str, Any] = task
    return result


def history(pg_url: str, memory_id: str) -> list[tuple[str, str | None, str | None]]:
    rows = sql(
        pg_url,
        "SELECT event, old_value, new_value FROM memory_history WHERE memory_id = :m ORDER BY id",
        m=memory_id,
    )
    return [(r["event"], r["old_value"], r["new_value"]) for r in rows]


# ---------------------------------------------------------------------------------- fast mode


def test_fast_feedback_ranks_above_the_memory_it_corrects(api: Api) -> None:
    add(api, LIVES_IN_BEIJING)
    [old] = search(api, "我住在哪里")

    task = feedback(api, MOVED, feedback_time="2025-12-11 10:30:00")

    assert task["success"] is True
    assert task["status"] == "completed"
    assert status(api, task["task_id"])["status"] == "completed"
    for query in ("我住在哪里", "北京", "用户住在哪个城市", "我每天怎么去上班"):
        found = search(api, query)
        print(query, [(m["relativity"], m["memory_value"][:20]) for m in found])
        first = found[0]
        assert first["memory_value"] == f"user: {MOVED}", query
        assert first["memory_key"] == "用户反馈"
        assert first["memory_type"] == "UserMemory"
        assert first["tags"] == ["feedback"]
        assert first["conversation_id"] == "c2"
        assert first["memory_time"] == "2025-12-11 10:30:00"
        assert found[1]["id"] == old["id"], query  # kept, directly below its correction
        assert first["relativity"] >= found[1]["relativity"]


def test_fast_feedback_stays_out_of_the_way_of_what_it_does_not_correct(api: Api) -> None:
    add(api, LIVES_IN_BEIJING)
    add(
        api,
        [
            {"role": "user", "content": "我最喜欢吃火锅，尤其是麻辣锅底。"},
            {"role": "assistant", "content": "记下了。"},
        ],
        "c3",
    )
    feedback(api, MOVED)

    found = search(api, "我喜欢吃什么")
    assert "火锅" in found[0]["memory_value"]
    feedback_at = [m["memory_key"] for m in found].index("用户反馈")
    assert found[feedback_at + 1]["memory_value"].startswith("user: 我住在北京")


def test_fast_feedback_in_english(api: Api) -> None:
    add(
        api,
        [
            {"role": "user", "content": "I live in Beijing and take the subway to work."},
            {"role": "assistant", "content": "Got it."},
        ],
    )
    feedback(api, "I don't live in Beijing anymore, I moved to Shanghai.")

    first = search(api, "Where does the user live?")[0]
    assert first["memory_key"] == "User feedback"
    assert first["memory_value"] == "user: I don't live in Beijing anymore, I moved to Shanghai."


def test_a_repeated_feedback_is_stored_once(api: Api, pg_url: str) -> None:
    first = feedback(api, MOVED)
    again = feedback(api, MOVED)  # the SDK retries on any error
    keyed = api.http.post(
        "/add/feedback",
        json={"user_id": "u1", "feedback_content": "我换工作了", "conversation_id": "c2"},
        headers={"Idempotency-Key": "fb-1"},
    ).json()["data"]
    keyed_again = api.http.post(
        "/add/feedback",
        json={"user_id": "u1", "feedback_content": "我换工作了", "conversation_id": "c2"},
        headers={"Idempotency-Key": "fb-1"},
    ).json()["data"]

    assert again["task_id"] == first["task_id"]
    assert keyed_again["task_id"] == keyed["task_id"]
    values = [m["memory_value"] for m in search(api, "北京") if "feedback" in m["tags"]]
    assert sorted(values) == sorted([f"user: {MOVED}", "user: 我换工作了"])
    stored = sql(
        pg_url,
        "SELECT count(*) AS n FROM feedback WHERE task_id IN (:a, :b)",
        a=first["task_id"],
        b=keyed["task_id"],
    )
    assert stored[0]["n"] == 2


def test_feedback_tolerates_the_sdks_nulls_and_extras(api: Api) -> None:
    data = api.ok(
        "/add/feedback",
        {
            "user_id": "u1",
            "feedback_content": MOVED,
            "conversation_id": None,
            "agent_id": None,
            "app_id": None,
            "feedback_time": None,
            "allow_public": False,
            "allow_knowledgebase_ids": None,
            "source": "sdk",
        },
    )
    assert data["status"] == "completed"
    assert search(api, "北京")[0]["conversation_id"] is None


def test_feedback_validation(api: Api) -> None:
    assert "feedback_content" in api.fails("/add/feedback", {"user_id": "u1"}, 400, 40002)
    assert "feedback_content" in api.fails(
        "/add/feedback", {"user_id": "u1", "feedback_content": "   "}, 400, 40002
    )
    assert "user_id" in api.fails("/add/feedback", {"feedback_content": MOVED}, 400, 40002)
    api.fails("/add/feedback", {"user_id": "u" * 101, "feedback_content": MOVED}, 413, 40010)
    api.fails(
        "/add/feedback",
        {"user_id": "u1", "conversation_id": "c" * 101, "feedback_content": MOVED},
        413,
        40011,
    )
    assert "feedback_time" in api.fails(
        "/add/feedback",
        {"user_id": "u1", "feedback_content": MOVED, "feedback_time": "soon"},
        400,
        40000,
    )
    assert "feedback_content" in api.fails(
        "/add/feedback", {"user_id": "u1", "feedback_content": "x" * 32_001}, 413, 40305
    )


def test_feedback_needs_an_api_key(api: Api, service: Any) -> None:
    with Api(service.base_url, None) as anonymous:
        anonymous.fails("/add/feedback", {"user_id": "u1", "feedback_content": MOVED}, 401, 40100)


def scored(name: str, relativity: float, corrects: tuple[str, ...] = ()) -> Scored:
    memory = recalled_memory(
        name,
        memory_id=uuid.uuid5(uuid.NAMESPACE_URL, name),
        corrects=[uuid.uuid5(uuid.NAMESPACE_URL, c) for c in corrects],
        create_time=datetime(2025, 1, len(name), tzinfo=UTC),
    )
    return Scored(memory, relativity)


def test_place_corrections() -> None:
    a, b, c = scored("a", 0.9), scored("b", 0.7), scored("c", 0.5)
    fix_b = scored("fix-b", 0.3, ("b",))
    fix_c_new = scored("fix-c-newer", 0.0, ("c", "b-gone"))
    above_already = scored("up", 0.95, ("c",))

    def names(found: list[Scored]) -> list[tuple[str, float]]:
        return [(s.memory.memory_value, s.relativity) for s in found]

    # Moved up from below (and from outside the results), inheriting the relevance it needs.
    assert names(place_corrections([a, b, c, fix_b], [fix_b.memory], 4)) == [
        ("a", 0.9),
        ("fix-b", 0.7),
        ("b", 0.7),
        ("c", 0.5),
    ]
    assert names(place_corrections([a, b, c], [fix_b.memory, fix_c_new.memory], 3)) == [
        ("a", 0.9),
        ("fix-b", 0.7),
        ("b", 0.7),
    ]
    # Already above what it corrects: left alone.
    assert names(place_corrections([above_already, a, c], [above_already.memory], 3)) == [
        ("up", 0.95),
        ("a", 0.9),
        ("c", 0.5),
    ]
    # Two corrections of one memory: the newer first.
    fix_c_old = scored("fix", 0.1, ("c",))
    assert [
        n for n, _ in names(place_corrections([c], [fix_c_old.memory, fix_c_new.memory], 3))
    ] == [
        "fix-c-newer",
        "fix",
        "c",
    ]


# ---------------------------------------------------------------------------------- fine mode


def fact(value: str, key: str = "居住地") -> dict[str, Any]:
    return {"memory_key": key, "memory_value": value, "tags": ["居住"]}


def seed_old_fact(api: Api, fake_llm: FakeLLM) -> dict[str, Any]:
    fake_llm.script({"facts": reply_json({"memories": [fact(OLD_FACT)]})})
    add(api, LIVES_IN_BEIJING)
    [old] = search(api, "用户住在哪个城市")
    return old


def test_fine_feedback_archives_the_contradicted_memory_and_adds_the_new_fact(
    fine_api: Api, fake_llm: FakeLLM, pg_url: str
) -> None:
    old = seed_old_fact(fine_api, fake_llm)
    fake_llm.script(
        {
            "feedback": reply_json(
                {
                    "operations": [
                        {"action": "ARCHIVE", "id": 1},
                        {
                            "action": "ADD",
                            "memory_value": NEW_FACT,
                            "memory_key": "居住地变更",
                            "tags": ["居住", "搬家"],
                        },
                    ]
                }
            )
        }
    )

    task = feedback(fine_api, MOVED, feedback_time="2025-12-11 10:30:00")

    assert task["status"] == "running"  # applied by a job; the SDK polls get/status
    wait_until(lambda: status(fine_api, task["task_id"])["status"] == "completed", 30, "feedback")
    found = search(fine_api, "用户住在哪个城市")
    assert [m["memory_value"] for m in found] == [NEW_FACT]
    assert found[0]["memory_key"] == "居住地变更"
    assert found[0]["tags"] == ["居住", "搬家", "feedback"]
    assert history(pg_url, old["id"]) == [("ADD", None, OLD_FACT), ("ARCHIVE", OLD_FACT, MOVED)]
    [stored] = sql(
        pg_url,
        "SELECT status FROM memories WHERE id = :m",
        m=old["id"],
    )
    assert stored["status"] == "archived"
    # The feedback's own memory served until the job ran; its content now lives in the new fact.
    [own] = sql(
        pg_url,
        "SELECT id::text, status FROM memories WHERE task_id = :t AND mode = 'feedback'",
        t=task["task_id"],
    )
    assert own["status"] == "archived"
    assert [e for e, _, _ in history(pg_url, own["id"])] == ["ADD", "ARCHIVE"]
    [call] = fake_llm.calls("feedback")
    prompt = call["messages"][0]["content"]
    assert prompt.startswith("# 任务：根据用户反馈修正记忆")
    assert "1. [事实] (" in prompt
    assert OLD_FACT in prompt
    assert f"user: {MOVED}" not in prompt  # not shown its own feedback memory
    assert prompt.rstrip().endswith(MOVED)
    assert "（2025-12-11 10:30 给出）" in prompt
    assert call["response_format"] == {"type": "json_object"}
    usage = sql(pg_url, "SELECT llm_calls, kind FROM tasks WHERE id = :t", t=task["task_id"])
    assert usage == [{"llm_calls": 1, "kind": "add_feedback"}]


def test_fine_feedback_updates_a_memory_in_place(
    fine_api: Api, fake_llm: FakeLLM, pg_url: str
) -> None:
    old = seed_old_fact(fine_api, fake_llm)
    corrected = "[user观点]用户住在北京，每天骑自行车上班。"
    fake_llm.script(
        {
            "feedback": reply_json(
                {"operations": [{"action": "UPDATE", "id": 1, "memory_value": corrected}]}
            )
        }
    )

    task = feedback(fine_api, "我不坐地铁，我是骑自行车上班的", async_mode=False)

    assert task["status"] == "completed"
    [after] = search(fine_api, "用户怎么上班")
    assert after["id"] == old["id"]
    assert after["memory_value"] == corrected
    assert after["memory_key"] == "居住地"  # kept when the model gives none
    assert history(pg_url, old["id"])[-1] == ("UPDATE", OLD_FACT, corrected)


def test_feedback_in_english_gets_the_english_prompt(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script(
        {
            "feedback": reply_json(
                {"operations": [{"action": "ADD", "memory_value": "The user is vegetarian."}]}
            )
        }
    )

    feedback(fine_api, "Please remember I am vegetarian now.", async_mode=False)

    [call] = fake_llm.calls("feedback")
    assert call["messages"][0]["content"].startswith("# Task: apply the user's feedback")
    assert "(none)" in call["messages"][0]["content"]
    [memory] = search(fine_api, "vegetarian")
    assert memory["memory_value"] == "[user viewpoint]The user is vegetarian."
    assert memory["memory_key"] == "The user is vegetarian"


def test_feedback_that_changes_nothing_leaves_the_memories(
    fine_api: Api, fake_llm: FakeLLM
) -> None:
    seed_old_fact(fine_api, fake_llm)
    fake_llm.script({"feedback": reply_json({"operations": []})})

    task = feedback(fine_api, "谢谢你记得这些", async_mode=False)

    assert task["status"] == "completed"
    assert [m["memory_value"] for m in search(fine_api, "用户住在哪个城市")] == [OLD_FACT]


def test_an_invented_id_is_asked_again(fine_api: Api, fake_llm: FakeLLM) -> None:
    seed_old_fact(fine_api, fake_llm)
    answers = iter(
        [
            reply_json({"operations": [{"action": "ARCHIVE", "id": 9}]}),
            reply_json({"action": "ARCHIVE", "id": 1}),  # one operation, not in a list
        ]
    )
    fake_llm.script({"feedback": lambda request: next(answers)})

    task = feedback(fine_api, MOVED, async_mode=False)

    assert task["status"] == "completed"
    _, second = fake_llm.calls("feedback")
    assert "id must be one of 1..1 for ARCHIVE" in second["messages"][-1]["content"]
    assert [m["memory_key"] for m in search(fine_api, "用户住在哪个城市")] == []


def test_unusable_answers_fail_the_task_and_keep_the_feedback_memory(
    fine_api: Api, fake_llm: FakeLLM
) -> None:
    seed_old_fact(fine_api, fake_llm)
    fake_llm.script({"feedback": Reply(content="好的，我会记住的。")})

    task = feedback(fine_api, MOVED, async_mode=False)

    assert task["status"] == "failed"
    error = status(fine_api, task["task_id"])["error"]
    assert "applying the feedback failed (the answer holds no JSON object)" in error
    assert "the feedback stays a memory of its own" in error
    found = search(fine_api, "用户住在哪个城市")
    assert found[0]["memory_key"] == "用户反馈"  # still ranked above what it corrects
    assert [m["memory_value"] for m in found[1:]] == [OLD_FACT]


def test_the_model_down_retries_then_fails(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({"feedback": Reply(status=500, error="upstream exploded")})

    task = feedback(fine_api, MOVED, async_mode=False)

    assert task["status"] == "failed"
    assert "HTTP 500" in status(fine_api, task["task_id"])["error"]
    # Two job attempts (max_attempts=2), each one call and one retry (max_retries=1).
    assert len(fake_llm.calls("feedback")) == 4
