"""Asynchronous ingestion: durable jobs, workers, idempotent adds, per-user order, crashes."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fake_llm import FakeLLM, Reply, reply_json
from tests.support.api import Api
from tests.support.conversations import SEED_FAMILY_TRIP, SEED_HOTEL
from tests.support.database import fresh_database, new_api_key, sql
from tests.support.process import ServiceProcess
from tests.support.service import ServiceThread
from tests.support.waiting import wait_until

VALUE = "[user观点]用户选择了七天酒店。"
FACT = {"memory_key": "七天酒店", "memory_value": VALUE, "tags": ["酒店"]}


def body(user: str = "u1", conversation: str = "c1", **extra: Any) -> dict[str, Any]:
    return {"user_id": user, "conversation_id": conversation, "messages": SEED_HOTEL, **extra}


def final_status(api: Api, task_id: str, timeout_s: float = 60) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        [task] = api.ok("/get/status", {"task_id": task_id})
        return None if task["status"] == "running" else task

    result: dict[str, Any] = wait_until(done, timeout_s, f"task {task_id}")
    return result


# ----------------------------------------------------------------- the in-process worker


def test_add_answers_at_once_and_the_job_completes(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({"facts": Reply(content='{"memories": []}', delay_s=0.6)})

    started = time.perf_counter()
    task = fine_api.ok("/add/message", body())
    answered_s = time.perf_counter() - started

    assert task["status"] == "running"
    assert answered_s < 0.5  # the model's 0.6 s were not waited for
    # the fast memories are searchable while extraction runs
    found = fine_api.ok("/search/memory", {"user_id": "u1", "query": "酒店"})
    assert found["memory_detail_list"][0]["tags"] == ["mode:fast"]
    assert final_status(fine_api, task["task_id"])["status"] == "completed"


def test_three_identical_adds_store_one_copy(fine_api: Api, fake_llm: FakeLLM, pg_url: str) -> None:
    fake_llm.script({"facts": reply_json({"memories": [FACT]})})

    task_ids = {fine_api.ok("/add/message", body())["task_id"] for _ in range(3)}

    [task_id] = task_ids
    final_status(fine_api, task_id)
    history = fine_api.ok("/get/message", {"user_id": "u1", "conversation_id": "c1"})
    assert len(history["message_detail_list"]) == len(SEED_HOTEL)
    assert len(fake_llm.calls("facts")) == 1  # one job
    found = fine_api.ok("/search/memory", {"user_id": "u1", "query": "酒店"})
    assert [m["memory_value"] for m in found["memory_detail_list"]] == [FACT["memory_value"]]


def test_identical_adds_sent_at_once_store_one_copy(fine_api: Api, fake_llm: FakeLLM) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        task_ids = set(pool.map(lambda _: fine_api.ok("/add/message", body())["task_id"], range(6)))

    assert len(task_ids) == 1
    history = fine_api.ok("/get/message", {"user_id": "u1", "conversation_id": "c1"})
    assert len(history["message_detail_list"]) == len(SEED_HOTEL)


def test_different_adds_are_not_merged(fine_api: Api) -> None:
    first = fine_api.ok("/add/message", body())["task_id"]
    other_conversation = fine_api.ok("/add/message", body(conversation="c2"))["task_id"]
    timed = [dict(m, chat_time="2025-06-10 09:30:00") for m in SEED_HOTEL]
    other_times = fine_api.ok("/add/message", body(messages=timed))["task_id"]

    assert len({first, other_conversation, other_times}) == 3
    # Their jobs end here, not in the middle of the next test's scripted model.
    for task_id in (first, other_conversation, other_times):
        final_status(fine_api, task_id)


def test_an_idempotency_key_makes_any_add_safe_to_repeat(
    fine_api: Api, service: ServiceThread
) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = fine_api.http.post("/add/message", json=body(), headers=headers).json()["data"]
    again = fine_api.http.post("/add/message", json=body(), headers=headers).json()["data"]
    changed = body(messages=[{"role": "user", "content": "a retry that differs"}])
    refused = fine_api.http.post("/add/message", json=changed, headers=headers)

    assert again["task_id"] == first["task_id"]
    fine_api.error_of(refused, 422, 40000)  # the key names another request
    history = fine_api.ok("/get/message", {"user_id": "u1", "conversation_id": "c1"})
    assert len(history["message_detail_list"]) == len(SEED_HOTEL)
    final_status(fine_api, first["task_id"])


def test_one_users_jobs_run_in_order(fine_api: Api, fake_llm: FakeLLM) -> None:
    in_flight: dict[str, int] = {"now": 0, "most": 0}
    lock = threading.Lock()

    def slow_facts(request: dict[str, Any]) -> Reply:
        with lock:
            in_flight["now"] += 1
            in_flight["most"] = max(in_flight["most"], in_flight["now"])
        time.sleep(0.3)
        with lock:
            in_flight["now"] -= 1
        return reply_json({"memories": []})

    fake_llm.script({"facts": slow_facts})
    conversations = ["first", "second", "third", "fourth"]
    tasks = [
        fine_api.ok(
            "/add/message",
            body(conversation=c, messages=[{"role": "user", "content": f"{c}: 我住在北京"}]),
        )["task_id"]
        for c in conversations
    ]
    for task_id in tasks:
        final_status(fine_api, task_id)

    prompts = [r["messages"][0]["content"] for r in fake_llm.calls("facts")]
    order = [next(c for c in conversations if f"user: {c}:" in p) for p in prompts]
    assert order == conversations
    assert in_flight["most"] == 1  # never two of this user's jobs at once


def test_async_mode_false_waits_for_the_job(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({"facts": Reply(content='{"memories": []}', delay_s=0.5)})
    task = fine_api.ok("/add/message", body(async_mode=False))
    assert task["status"] == "completed"


# ------------------------------------------------------------ worker processes, crashes


@pytest.fixture
def durable(pg_url: str, fake_llm: FakeLLM, tmp_path: Path) -> dict[str, str]:
    """Environment for service and worker processes in fine mode, on a database of their own
    (the session's in-process worker must not take their jobs)."""
    fake_llm.script({})
    return {
        "MEMOS_DATABASE__URL": fresh_database(pg_url),
        "MEMOS_LLM__BASE_URL": fake_llm.base_url,
        "MEMOS_LLM__MODEL": "fake-model",
        "MEMOS_LLM__TIMEOUT_S": "10",
        "MEMOS_LLM__MAX_RETRIES": "0",
        "MEMOS_JOBS__LEASE_S": "2",
        "MEMOS_JOBS__POLL_INTERVAL_S": "0.2",
        "MEMOS_JOBS__RETRY_BASE_S": "0.3",
        "MEMOS_JOBS__RETRY_MAX_S": "1",
        "MEMOS_JOBS__MAX_ATTEMPTS": "20",
    }


@pytest.mark.slow
def test_two_worker_processes_never_run_the_same_job(
    durable: dict[str, str], fake_llm: FakeLLM, tmp_path: Path
) -> None:
    db = durable["MEMOS_DATABASE__URL"]
    gate = threading.Event()  # held until both workers are up, so that both take jobs

    def gated(request: dict[str, Any]) -> Reply:
        gate.wait(120)
        return Reply(content='{"memories": []}', delay_s=0.1)

    fake_llm.script({"facts": gated})
    api_only = ServiceProcess(tmp_path, "serve", "--no-worker", **durable).start()
    workers = [
        ServiceProcess(tmp_path, "worker", **durable, MEMOS_JOBS__CONCURRENCY="2") for _ in range(2)
    ]
    try:
        with Api(api_only.base_url, new_api_key(db)) as api:
            tasks = [
                api.ok("/add/message", body(user=f"user-{i}", conversation=f"c{i}"))["task_id"]
                for i in range(16)
            ]
            time.sleep(1.0)
            assert {api.ok("/get/status", {"task_id": t})[0]["status"] for t in tasks} == {
                "running"
            }  # nobody runs jobs in the API-only process
            for worker in workers:
                worker.start(wait_ready=False)
            for worker in workers:
                worker.wait_ready()
            wait_until(lambda: len(fake_llm.calls("facts")) >= 4, 30, "both workers to claim")
            gate.set()
            for task_id in tasks:
                assert final_status(api, task_id)["status"] == "completed"

        jobs = sql(
            db,
            "SELECT attempts, status, locked_by FROM jobs WHERE task_id = ANY(CAST(:t AS uuid[]))",
            t=tasks,
        )
        assert {(j["attempts"], j["status"]) for j in jobs} == {(1, "done")}
        assert len({j["locked_by"] for j in jobs}) == 2  # both workers took part
        assert len(fake_llm.calls("facts")) == len(tasks)  # no job ran twice
    finally:
        for process in (api_only, *workers):
            process.stop()


@pytest.mark.slow
def test_a_service_killed_mid_extraction_finishes_the_job_after_restart(
    durable: dict[str, str], fake_llm: FakeLLM, tmp_path: Path
) -> None:
    db = durable["MEMOS_DATABASE__URL"]
    extracting = threading.Event()

    def hang(request: dict[str, Any]) -> Reply:
        extracting.set()
        return Reply(content='{"memories": []}', delay_s=30)

    fake_llm.script({"facts": hang})
    first = ServiceProcess(tmp_path, **durable).start()
    key = new_api_key(db)  # after the first start: the service migrates its new database
    try:
        with Api(first.base_url, key) as api:
            task_id = api.ok("/add/message", body(messages=SEED_FAMILY_TRIP))["task_id"]
        assert extracting.wait(30), "extraction never started"
        first.signal(signal.SIGKILL)
        first.wait()
    finally:
        first.stop()

    fake_llm.script({"facts": reply_json({"memories": [FACT]})})
    second = ServiceProcess(tmp_path, **durable).start()
    try:
        with Api(second.base_url, key) as api:
            task = final_status(api, task_id, timeout_s=60)
            assert task["status"] == "completed"
            history = api.ok(
                "/get/message",
                {"user_id": "u1", "conversation_id": "c1", "message_limit_number": 50},
            )
            assert len(history["message_detail_list"]) == len(SEED_FAMILY_TRIP)
            found = api.ok(
                "/search/memory", {"user_id": "u1", "query": "酒店", "memory_limit_number": 25}
            )
            assert [m["memory_value"] for m in found["memory_detail_list"]] == [
                FACT["memory_value"]
            ]
        [job] = sql(
            db,
            "SELECT attempts, status FROM jobs WHERE task_id = :t",
            t=task_id,
        )
        assert (job["attempts"], job["status"]) == (2, "done")
        memories = sql(
            db,
            "SELECT mode, status FROM memories WHERE task_id = :t ORDER BY mode",
            t=task_id,
        )
        # The family trip's six Chinese turns are three fast windows of one exchange each.
        assert [(m["mode"], m["status"]) for m in memories] == [
            *[("fast", "archived")] * 3,
            ("fine", "activated"),
        ]
    finally:
        second.stop()


def test_an_idle_worker_process_hears_jobs_queued_elsewhere_and_its_retries_fall_due(
    durable: dict[str, str], fake_llm: FakeLLM, tmp_path: Path
) -> None:
    """A job queued by another process wakes an idle worker at once (NOTIFY memos_jobs), and a
    retry runs when it falls due, long before the worker's next unwoken look."""
    db = durable["MEMOS_DATABASE__URL"]
    failures = [Reply(status=503, error="overloaded")]

    def once_down(request: dict[str, Any]) -> Reply:
        return failures.pop() if failures else reply_json({"memories": [FACT]})

    fake_llm.script({"facts": once_down, "preferences": reply_json({"preferences": []})})
    quiet = {**durable, "MEMOS_JOBS__POLL_INTERVAL_S": "60", "MEMOS_JOBS__LISTEN_CHECK_S": "60"}
    api_only = ServiceProcess(tmp_path, "serve", "--no-worker", **quiet).start()
    worker = ServiceProcess(tmp_path, "worker", **quiet).start(wait_ready=False)
    try:
        worker.wait_ready()
        with Api(api_only.base_url, new_api_key(db)) as api:
            first = api.ok("/add/message", body(user="u1"))["task_id"]
            started = time.monotonic()
            # The first attempt fails (503) and is retried 0.3 s later (MEMOS_JOBS__RETRY_BASE_S).
            assert final_status(api, first, timeout_s=20)["status"] == "completed"
            assert len(fake_llm.calls("facts")) == 2
            time.sleep(1.0)  # idle again, with nothing due
            second = api.ok("/add/message", body(user="u2"))["task_id"]
            assert final_status(api, second, timeout_s=20)["status"] == "completed"
        assert time.monotonic() - started < 20  # neither waited for a 60-second look
    finally:
        for process in (api_only, worker):
            process.stop()


@pytest.mark.slow
def test_jobs_queued_while_the_llm_is_down_complete_when_it_is_back(
    durable: dict[str, str], fake_llm: FakeLLM, tmp_path: Path
) -> None:
    db = durable["MEMOS_DATABASE__URL"]
    down = threading.Event()
    down.set()

    def flaky(answer: Reply) -> Any:
        return lambda request: Reply(status=503, error="overloaded") if down.is_set() else answer

    fake_llm.script(
        {
            "facts": flaky(reply_json({"memories": [FACT]})),
            "preferences": flaky(reply_json({"preferences": []})),
        }
    )
    service = ServiceProcess(tmp_path, **durable).start()
    try:
        with Api(service.base_url, new_api_key(db)) as api:
            tasks = [api.ok("/add/message", body(user=f"u{i}"))["task_id"] for i in range(3)]
            wait_until(lambda: len(fake_llm.calls("facts")) >= 6, 30, "failed attempts")
            for task_id in tasks:
                [task] = api.ok("/get/status", {"task_id": task_id})
                assert task["status"] == "running"
                assert "failed (LLM endpoint answered HTTP 503); retrying" in task["error"]
            down.clear()
            for task_id in tasks:
                task = final_status(api, task_id)
                assert task["status"] == "completed"
                assert task["error"] is None
    finally:
        service.stop()


@pytest.mark.slow
def test_sigterm_finishes_the_job_in_hand_before_exit(
    durable: dict[str, str], fake_llm: FakeLLM, tmp_path: Path
) -> None:
    db = durable["MEMOS_DATABASE__URL"]
    fake_llm.script({"facts": Reply(content='{"memories": []}', delay_s=2.0)})
    service = ServiceProcess(tmp_path, **durable).start()
    try:
        with Api(service.base_url, new_api_key(db)) as api:
            task_id = api.ok("/add/message", body())["task_id"]
        wait_until(lambda: fake_llm.calls("facts"), 30, "extraction to start")
        service.signal(signal.SIGTERM)
        service.wait(timeout_s=60)
        [task] = sql(db, "SELECT status FROM tasks WHERE id = :t", t=task_id)
        assert task["status"] == "completed"
        assert "finishing 1 job(s) before exit" in service.output()
    finally:
        service.stop()


@pytest.mark.slow
def test_sigterm_hands_back_what_cannot_finish_in_the_grace_period(
    durable: dict[str, str], fake_llm: FakeLLM, tmp_path: Path
) -> None:
    db = durable["MEMOS_DATABASE__URL"]
    fake_llm.script({"facts": Reply(content='{"memories": []}', delay_s=20.0)})
    service = ServiceProcess(tmp_path, **durable, MEMOS_JOBS__SHUTDOWN_GRACE_S="0.5").start()
    try:
        with Api(service.base_url, new_api_key(db)) as api:
            task_id = api.ok("/add/message", body())["task_id"]
        wait_until(lambda: fake_llm.calls("facts"), 30, "extraction to start")
        service.signal(signal.SIGTERM)
        service.wait(timeout_s=60)
        [job] = sql(
            db,
            "SELECT status, attempts, locked_by FROM jobs WHERE task_id = :t",
            t=task_id,
        )
        assert (job["status"], job["attempts"], job["locked_by"]) == ("queued", 0, None)
    finally:
        service.stop()


def test_status_of_an_unknown_task(fine_api: Api) -> None:
    fine_api.fails("/get/status", {"task_id": "3f1d2c1e-0000-4000-8000-000000000000"}, 404, 40001)


def test_the_http_client_used_by_sdk_retries_is_answered_quickly(fine_api: Api) -> None:
    # The SDK's timeout is 30 s and it retries on any error: an async add must answer well
    # within it even when the model is slow, so a retry never happens for that reason.
    with httpx.Client(base_url=fine_api.http.base_url, headers=fine_api.http.headers) as client:
        response = client.post("/add/message", json=body(), timeout=5)
    assert response.json()["data"]["status"] in ("running", "completed")
