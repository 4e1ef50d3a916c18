"""What an operator sees: /metrics, the request id on every response, JSON log lines that never
hold what users said or the keys they sent."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event

from memos_server.api.errors import install_error_handlers
from memos_server.app import API_PREFIX, App
from memos_server.logs import JsonFormatter, request_id
from memos_server.settings import DatabaseSettings
from memos_server.storage.database import Database
from tests.fake_llm import FakeLLM, Reply, reply_json
from tests.support.api import Api
from tests.support.database import execute, fresh_database, new_api_key, project_of
from tests.support.process import ServiceProcess
from tests.support.service import ServiceThread, free_port
from tests.support.waiting import wait_until

SEARCH = f"{API_PREFIX}/search/memory"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")
BEES = [{"role": "user", "content": "I keep bees on the roof."}]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def root_of(service: ServiceThread) -> str:
    return service.base_url.removesuffix(API_PREFIX)


def scrape(service: ServiceThread) -> Samples:
    response = httpx.get(f"{root_of(service)}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests_of(samples: Samples, route: str, status: str, method: str = "POST") -> float:
    return value(
        samples,
        "memos_http_request_duration_seconds_count",
        method=method,
        route=route,
        status=status,
    )


# ----------------------------------------------------------------------------------- /metrics


def test_requests_are_timed_by_route_template(api: Api, service: ServiceThread) -> None:
    before = scrape(service)
    api.ok("/search/memory", {"user_id": "u", "query": "anything"})
    api.fails("/search/memory", {"user_id": "u"}, 400, 40002)
    assert api.post("/no/such/endpoint-7f3a9", {}).status_code == 404
    after = scrape(service)

    assert requests_of(after, SEARCH, "200") == requests_of(before, SEARCH, "200") + 1
    assert requests_of(after, SEARCH, "400") == requests_of(before, SEARCH, "400") + 1
    assert requests_of(after, "unmatched", "404") == requests_of(before, "unmatched", "404") + 1
    # The raw path of an unknown endpoint never becomes a label.
    assert not [key for key in after if any("7f3a9" in v for _, v in key[1])]
    buckets = [
        key
        for key in after
        if key[0] == "memos_http_request_duration_seconds_bucket" and ("route", SEARCH) in key[1]
    ]
    assert {dict(labels)["le"] for _, labels in buckets} >= {"0.005", "10.0", "+Inf"}


def test_path_parameters_stay_in_the_template(api: Api, service: ServiceThread) -> None:
    api.get("/get/memory/00000000-0000-0000-0000-000000000001")
    route = f"{API_PREFIX}/get/memory/{{memory_id}}"
    assert requests_of(scrape(service), route, "404", method="GET") >= 1


def test_steady_load_beyond_the_pool_opens_no_connections(api: Api, service: ServiceThread) -> None:
    """More requests in flight than the pool has connections wait for one: no connection is
    opened and closed again per request (a new Postgres backend, every statement prepared anew),
    as overflow connections were."""
    api.ok("/add/message", {"user_id": "pool", "conversation_id": "c", "messages": BEES})
    in_flight = service.runtime.settings.database.pool_size + 4

    def round_of_searches() -> None:
        def one(_: int) -> int:
            return api.post("/search/memory", {"user_id": "pool", "query": "bees"}).status_code

        with ThreadPoolExecutor(in_flight) as threads:
            assert set(threads.map(one, range(in_flight * 3))) == {200}

    # This service's own pool: the metric is the whole test process's, where other services'
    # background loops (workers, index sync) may open a connection of their own meanwhile.
    pool = service.runtime.database.engine.sync_engine.pool
    connects: list[object] = []

    def opened(*_: object) -> None:
        connects.append(None)

    def held() -> int:  # connections the pool has open, in use or idle
        return int(pool.size() + pool.overflow())  # type: ignore[attr-defined]

    round_of_searches()  # the pool fills up (nearly: a later round may open one or two more)
    before = held()
    event.listen(pool, "connect", opened)
    try:
        round_of_searches()
        round_of_searches()
    finally:
        event.remove(pool, "connect", opened)
    # Every connection opened is still open (none closed and opened again, as overflow ones
    # were), and the pool never holds more than its size.
    assert len(connects) == held() - before
    assert held() <= service.runtime.settings.database.pool_size
    assert value(scrape(service), "memos_db_connections_opened_total", pool="primary") > 0


def test_key_checks_are_counted_kept_or_looked_up(service: ServiceThread, pg_url: str) -> None:
    checks = "memos_api_key_checks_total"
    wait_until(lambda: service.runtime.keys.is_listening, timeout_s=10)
    before = scrape(service)
    with Api(service.base_url, new_api_key(pg_url)) as fresh:
        for _ in range(3):
            fresh.ok("/get/message", {"user_id": "u", "conversation_id": "c"})
    after = scrape(service)
    assert value(after, checks, how="looked_up") - value(before, checks, how="looked_up") == 1
    assert value(after, checks, how="kept") - value(before, checks, how="kept") == 2


def test_client_chosen_paths_never_become_labels(api: Api, service: ServiceThread) -> None:
    root = service.base_url.removesuffix(API_PREFIX)
    with httpx.Client(base_url=root) as http:
        http.get("/console/deep/er/path-9c1e2.js")
        http.get("/console/index.html")
    api.get("/get/memory/ory-4d7b")  # a value that is also the tail of a fixed segment
    after = scrape(service)
    assert requests_of(after, "/console/{path}", "200", method="GET") >= 1
    assert not [key for key in after if any("9c1e2" in v or "4d7b" in v for _, v in key[1])]


def test_embedding_batches_are_counted(api: Api, service: ServiceThread) -> None:
    # A user with a memory: a search finding nothing in scope cancels its query's embedding.
    api.ok(
        "/add/message",
        {"user_id": "u", "conversation_id": "c", "messages": BEES},
    )
    before = scrape(service)
    api.ok("/search/memory", {"user_id": "u", "query": "a query to embed"})
    after = scrape(service)

    count = "memos_embedding_batch_texts_count"
    assert value(after, count) >= value(before, count) + 1
    assert value(after, "memos_embedding_batch_texts_sum") > value(
        before, "memos_embedding_batch_texts_sum"
    )
    assert value(after, "memos_embedding_batch_duration_seconds_count") >= value(after, count)


def test_job_queue_gauges_read_the_jobs_table(
    service: ServiceThread, api_key: str, pg_url: str
) -> None:
    empty = scrape(service)
    for kind in ("refine", "feedback"):
        assert ("memos_job_queue_depth", frozenset({"kind": kind, "status": "queued"}.items())) in (
            empty
        )
        assert ("memos_job_queue_oldest_age_seconds", frozenset({"kind": kind}.items())) in empty

    # A job made an hour ago that no worker may take yet (its retry is an hour away).
    project = project_of(pg_url, api_key)
    execute(
        pg_url,
        """
        WITH task AS (
            INSERT INTO tasks (id, project_id, kind, user_id, conversation_id, status)
            VALUES (gen_random_uuid(), CAST(:project AS uuid), 'add_message', 'u', 'c', 'running')
            RETURNING id
        )
        INSERT INTO jobs (task_id, project_id, user_id, kind, status, attempts, max_attempts,
                          run_after, created_at)
        SELECT id, CAST(:project AS uuid), 'u', 'refine', 'queued', 1, 5,
               now() + interval '1 hour', now() - interval '1 hour'
        FROM task
        """,
        project=project,
    )
    try:
        waiting = scrape(service)
    finally:
        execute(pg_url, "DELETE FROM tasks WHERE project_id = CAST(:p AS uuid)", p=project)

    queued = {"kind": "refine", "status": "queued"}
    assert value(waiting, "memos_job_queue_depth", **queued) >= 1
    assert value(waiting, "memos_job_queue_oldest_age_seconds", kind="refine") >= 3600


def test_metrics_answer_without_the_queue_when_the_database_is_down(
    service: ServiceThread,
) -> None:
    runtime = service.runtime
    dead = Database(
        f"postgresql://nobody@127.0.0.1:{free_port()}/none",
        DatabaseSettings(pool_size=1, max_overflow=0),
    )
    real, runtime.database = runtime.database, dead
    try:
        response = httpx.get(f"{root_of(service)}/metrics", timeout=10)
    finally:
        runtime.database = real
        asyncio.run(dead.dispose())
    assert response.status_code == 200
    assert "memos_http_request_duration_seconds_bucket" in response.text
    assert "memos_job_queue_depth" not in response.text


def test_llm_calls_and_failures_are_counted(
    fine_api: Api, fine_service: ServiceThread, fake_llm: FakeLLM
) -> None:
    ok = {"call": "complete", "outcome": "ok"}
    add = {"user_id": "u1", "conversation_id": "c1", "async_mode": False}
    before = scrape(fine_service)
    fake_llm.script(
        {"facts": reply_json({"memories": []}), "preferences": reply_json({"preferences": []})}
    )
    fine_api.ok("/add/message", {**add, "messages": [{"role": "user", "content": "I swim."}]})
    after = scrape(fine_service)
    assert value(after, "memos_llm_call_duration_seconds_count", **ok) >= (
        value(before, "memos_llm_call_duration_seconds_count", **ok) + 2  # facts, preferences
    )
    assert value(after, "memos_llm_tokens_total", type="prompt") > value(
        before, "memos_llm_tokens_total", type="prompt"
    )

    failed = {"call": "complete", "outcome": "error"}
    fake_llm.script({"facts": Reply(status=500), "preferences": Reply(status=500)})
    data = fine_api.ok(
        "/add/message",
        {**add, "async_mode": True, "messages": [{"role": "user", "content": "I run."}]},
    )

    def counted() -> bool:
        now = scrape(fine_service)
        # max_retries 1: each of the two calls is tried twice before it fails.
        return value(now, "memos_llm_failures_total", reason="http_5xx") >= (
            value(after, "memos_llm_failures_total", reason="http_5xx") + 4
        ) and value(now, "memos_llm_call_duration_seconds_count", **failed) >= (
            value(after, "memos_llm_call_duration_seconds_count", **failed) + 2
        )

    wait_until(counted, 30, "the failures to be counted")

    def finished() -> bool:
        [task] = fine_api.ok("/get/status", {"task_id": data["task_id"]})
        return bool(task["status"] != "running")

    wait_until(finished, 30, "the failing job to give up")


# ---------------------------------------------------------------------------------- request id


def test_every_response_carries_the_request_id(
    api: Api, service: ServiceThread, api_key: str
) -> None:
    root = root_of(service)
    huge = b"{" + b" " * 10_000_001 + b"}"

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while streaming in
        for _ in range(11):
            yield b" " * 1_000_000

    query = {"user_id": "u", "query": "q"}
    auth = {"Authorization": f"Token {api_key}", "Content-Type": "application/json"}
    calls: dict[str, tuple[int, Any]] = {
        "healthz": (200, lambda h: httpx.get(f"{root}/healthz", headers=h)),
        "search": (
            200,
            lambda h: api.http.post("/search/memory", json=query, headers=h),
        ),
        "bad key": (
            401,
            lambda h: httpx.post(
                f"{service.base_url}/get/message",
                json={"user_id": "u", "conversation_id": "c"},
                headers={**h, "Authorization": "Token not-a-key"},
            ),
        ),
        "invalid": (400, lambda h: api.http.post("/search/memory", json={}, headers=h)),
        "too large": (
            413,
            lambda h: httpx.post(
                f"{service.base_url}/add/message", content=huge, headers={**auth, **h}
            ),
        ),
        "too large, chunked": (
            413,
            lambda h: httpx.post(
                f"{service.base_url}/add/message", content=chunks(), headers={**auth, **h}
            ),
        ),
        "no such endpoint": (404, lambda h: httpx.get(f"{root}/nowhere", headers=h)),
    }
    for name, (status, call) in calls.items():
        generated = call({})
        assert generated.status_code == status, name
        assert GENERATED_ID.fullmatch(generated.headers["x-request-id"]), name
        given = call({"X-Request-ID": f"client-{name.replace(' ', '-').replace(',', '')}.1"})
        assert given.status_code == status, name
        assert given.headers["x-request-id"] == given.request.headers["x-request-id"], name


@pytest.mark.parametrize("given", ["has space", "x" * 129, "semi;colon", "ünï"])
def test_an_unsafe_request_id_is_replaced(service: ServiceThread, given: str) -> None:
    response = httpx.get(f"{root_of(service)}/healthz", headers={"X-Request-ID": given.encode()})
    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


def test_an_unexpected_error_is_a_500_with_the_request_id() -> None:
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    app = App()
    install_error_handlers(app, 1_000)
    app.include_router(router)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.get("/boom", headers={"X-Request-ID": "r-500"})

    response = asyncio.run(call())
    assert response.status_code == 500
    assert response.json()["code"] == 50000
    assert response.headers["x-request-id"] == "r-500"


# ---------------------------------------------------------------------------------------- logs


def test_a_json_line_holds_the_request_id_the_extras_and_the_traceback() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.observability")
    logger.addHandler(handler)
    logger.propagate = False
    token = request_id.set("req-1")
    try:
        try:
            raise ValueError("bad")
        except ValueError:
            logger.exception("failed: %s", "x", extra={"route": "/r", "status": 500})
    finally:
        request_id.reset(token)
        logger.removeHandler(handler)
        logger.propagate = True
    line = json.loads(out.getvalue())
    assert line["message"] == "failed: x"
    assert (line["level"], line["logger"]) == ("ERROR", "tests.observability")
    assert (line["request_id"], line["route"], line["status"]) == ("req-1", "/r", 500)
    assert "ValueError: bad" in line["exception"]
    assert line["time"].endswith("+00:00")


SECRET_CONTENT = "zebra-quartz-4471 is my bank PIN"
SECRET_QUERY = "what is the zebra-quartz-4471 PIN"
SECRET_ANSWER = "Your PIN is the zebra-quartz-4471 one"
API_KEY = "obs-api-key-Vb7c1b0fd4e0a4a58b09fe6c1a4d2f3e9"
WRONG_KEY = "obs-wrong-key-2d8b1e6a0c4f4a9e8f7d6c5b4a3f2e1d"
LLM_KEY = "sk-obs-llm-key-5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b"


@pytest.mark.slow
def test_logs_are_json_with_request_ids_and_no_content_or_keys(
    pg_url: str, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.script(
        {
            "facts": reply_json(
                {"memories": [{"memory_key": "PIN", "memory_value": SECRET_CONTENT}]}
            ),
            "chat": Reply(content=SECRET_ANSWER),
        }
    )
    service = ServiceProcess(
        tmp_path,
        MEMOS_DATABASE__URL=fresh_database(pg_url),
        MEMOS_API_KEY=API_KEY,
        MEMOS_LLM__BASE_URL=fake_llm.base_url,
        MEMOS_LLM__MODEL="fake-model",
        MEMOS_LLM__API_KEY=LLM_KEY,
        MEMOS_LLM__MAX_RETRIES="0",
        MEMOS_JOBS__MAX_ATTEMPTS="1",
    ).start()
    ids: dict[str, str] = {}
    try:
        user = {"user_id": "u", "conversation_id": "c"}
        with Api(service.base_url, API_KEY) as api:
            added = api.post(
                "/add/message",
                {
                    **user,
                    "messages": [{"role": "user", "content": SECRET_CONTENT}],
                    "async_mode": False,
                },
            )
            assert api.data_of(added)["status"] == "completed"
            searched = api.post("/search/memory", {"user_id": "u", "query": SECRET_QUERY})
            assert SECRET_CONTENT in searched.text
            chatted = api.post("/chat", {**user, "query": SECRET_QUERY})
            assert SECRET_ANSWER in chatted.text
            fake_llm.script({"chat": Reply(status=500, error=f"upstream: {SECRET_QUERY}")})
            refused = api.post("/chat", {**user, "query": SECRET_QUERY})
            assert refused.status_code == 503
            too_long = api.post("/search/memory", {"user_id": SECRET_CONTENT * 5, "query": "q"})
            ids.update(
                add=added.headers["x-request-id"],
                search=searched.headers["x-request-id"],
                chat=chatted.headers["x-request-id"],
                llm_down=refused.headers["x-request-id"],
                too_long=too_long.headers["x-request-id"],
            )
        with Api(service.base_url, WRONG_KEY) as stranger:
            wrong = stranger.post("/search/memory", {"user_id": "u", "query": SECRET_QUERY})
            assert wrong.status_code == 401
            ids["wrong_key"] = wrong.headers["x-request-id"]
        service.signal(signal.SIGTERM)
        service.wait()
    finally:
        service.stop()

    output = service.output()
    for secret in (SECRET_CONTENT, "zebra-quartz", API_KEY, WRONG_KEY, LLM_KEY):
        assert secret not in output, secret
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    messages = [line["message"] for line in lines]
    assert any(m.startswith("Started server process") for m in messages)
    assert messages[-1].startswith("Finished server process")
    access = {line["request_id"]: line for line in lines if line["logger"] == "memos_server.access"}
    for name, given in ids.items():
        assert given in access, name
    assert access[ids["search"]]["route"] == SEARCH
    assert access[ids["search"]]["status"] == 200
    assert access[ids["wrong_key"]]["status"] == 401
    assert access[ids["llm_down"]]["status"] >= 500
    assert isinstance(access[ids["add"]]["duration_ms"], float)
