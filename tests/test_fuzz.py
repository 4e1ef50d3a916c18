"""Schemathesis fuzzes every operation of the service's own OpenAPI schema, over real HTTP.

The schema is read from the running service's ``/openapi.json``; every generated request goes
to it with a real API key. The run must find no 5xx and no response that breaks the schema. It is
deterministic (the same requests every run, no example database) and bounded: ``MAX_EXAMPLES``
per operation in the fuzzing phase, plus the examples, coverage (boundary and type-confusion
values: nulls, huge numbers, wrong types, NUL bytes) and stateful phases. The figures of the run
are written to ``test-artifacts/fuzz-summary.json`` and printed (``pytest -s``).

Beside it, ``test_explicit_edges_get_no_server_error`` sends, as written, the edges generation
rarely reaches: times at and past both ends of their range, strings past each length limit, ids
of white space, numbers past what a float holds.

It runs the ``schemathesis run`` command rather than the pytest plugin: the plugin's lazy loader
(``schemathesis.pytest.from_fixture``, the only way to load a schema served by a fixture) breaks
on pytest 9.2, which no longer has the ``Node._nodeid`` it rewrites.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.fake_llm import FakeLLM
from tests.support.api import Api
from tests.support.database import new_api_key, project_of, sql
from tests.support.memories import store_memories, store_preference
from tests.support.paths import ROOT
from tests.support.service import ADMIN_KEY, ServiceThread
from tests.support.waiting import wait_until

SUMMARY = ROOT / "test-artifacts" / "fuzz-summary.json"
MAX_EXAMPLES = 60
EXAMPLE_USER = "memos_user_123"
KEPT_USER = "fuzz-kept-user"

CHECKS = [
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    # A request without a valid key must get a 401.
    "ignored_auth",
    # A method an endpoint does not serve gets a 405 with an Allow header.
    "unsupported_method",
    "allow_header_conformance",
]
# Left out on purpose:
# - negative_data_rejection: fields are read as pydantic reads them by default (lax mode): 0 or
#   "true" for a boolean, "6" for an integer. A value the schema calls the wrong type is accepted
#   when it converts cleanly (docs/api.md, "Input rules"); one that does not gets a 400.
# - positive_data_acceptance: the API has rules JSON Schema does not carry (no NUL or lone
#   surrogate anywhere, at most 25 results where the cap is a setting, exactly one selector for
#   delete/memory), and ids the fuzzer invents are rightly unknown (404): schema-valid requests
#   are refused for good reasons.
# - use_after_free, ensure_resource_availability: need an operation that creates a resource and
#   returns its id; add/message answers a task, not a memory.
# - missing_required_header: no operation has a required header.
# - object_level_authorization: needs a second user's credentials configured; cross-project
#   isolation has its own tests.
# - max_response_time: timing on a shared 2-core machine is not a correctness property.


def seed(service: ServiceThread, pg_url: str, key: str) -> list[str]:
    """Memories for the fuzzer to find; the ids of those it is given to read and update.

    The user of the schema's examples, whom most generated requests start from, gets some, so
    searches and listings answer real items (whose schema is checked too) until a generated
    delete/memory removes them. Another user's are the ids handed out: no generated request
    names that user, so they outlive the deletes.
    """
    store_memories(pg_url, key, EXAMPLE_USER, 5, text="用户暑假带孩子去广州旅游 🏖️ 𠀀")
    store_preference(service, pg_url, key, EXAMPLE_USER, "用户喜欢住连锁酒店🏨")
    store_memories(pg_url, key, KEPT_USER, 5, text="用户喜欢吃辣 🌶️ 𪚥")
    store_preference(service, pg_url, key, KEPT_USER, "用户喜欢靠窗的座位")
    with Api(service.base_url, key) as api:
        page = api.ok("/get/memory", {"user_id": KEPT_USER, "size": 50})
    return [m["id"] for m in page["memory_detail_list"] + page["preference_detail_list"]]


def config_file(folder: Path, memory_ids: list[str]) -> Path:
    """Half the memory ids get/memory/{id} and update/memory are sent are real ones: the rest,
    invented, only ever reach a 404."""
    path = folder / "schemathesis.toml"
    path.write_text(
        "[dictionaries.stored-memories]\n"
        f"values = {json.dumps(memory_ids)}\n"
        "[parameters]\n"
        '"path.memory_id" = { dictionary = "stored-memories", probability = 0.5 }\n'
        '"body.memory_id" = { dictionary = "stored-memories", probability = 0.5 }\n'
    )
    return path


def drain_jobs(pg_url: str, key: str) -> float:
    """Wait for the fine-mode jobs the run queued (hundreds) to finish: the shared scripted LLM
    and the job queue must be quiet for the tests after this one. The seconds it took."""
    started = time.monotonic()
    project = project_of(pg_url, key)
    wait_until(
        lambda: (
            not sql(
                pg_url,
                "SELECT 1 FROM jobs WHERE project_id = CAST(:project AS uuid)"
                " AND status IN ('queued', 'running') LIMIT 1",
                project=project,
            )
        ),
        timeout_s=300,
        what="the fuzz run's jobs to finish",
    )
    return time.monotonic() - started


def schemathesis_run(
    origin: str, key: str, config: Path, folder: Path, *selection: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], list[dict[str, Any]]]:
    """One ``schemathesis run`` over the operations ``selection`` picks, sending ``key``: its
    process, its JSON report and the HAR entries of every request it sent."""
    folder.mkdir()
    # The admin import takes JSON Lines: sent as the bytes schemathesis makes for a binary body.
    hooks = folder / "hooks.py"
    hooks.write_text(
        "import schemathesis\n"
        'schemathesis.serializer.alias("application/x-ndjson", "application/octet-stream")\n'
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "run",
            f"{origin}/openapi.json",
            *selection,
            "--header",
            f"Authorization: Token {key}",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            str(MAX_EXAMPLES),
            "--generation-deterministic",  # the same requests every run; no example database
            "--workers",
            "1",
            "--request-timeout",
            "60",
            "--report",
            "json,har",
            "--report-dir",
            str(folder),
            "--no-color",
        ],
        cwd=folder,  # anything schemathesis keeps on disk stays out of the repository
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(hooks)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    reports = {path.name.split("-")[0]: path for path in folder.glob("*-*.json")}
    assert set(reports) == {"json", "har"}, run.stdout + run.stderr
    report = json.loads(reports["json"].read_text())
    entries = json.loads(reports["har"].read_text())["log"]["entries"]
    return run, report, entries


def test_the_api_survives_fuzzing(
    fine_service: ServiceThread, pg_url: str, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    # The service with an LLM (the scripted one), so /chat answers instead of 503.
    fake_llm.script({})
    key = new_api_key(pg_url)
    origin = f"http://127.0.0.1:{fine_service.port}"
    config = config_file(tmp_path, seed(fine_service, pg_url, key))
    started = time.monotonic()
    # The memory API with a project's key; the admin API with the admin key.
    runs = [
        schemathesis_run(origin, key, config, tmp_path / "api", "--exclude-path-regex", "^/admin/"),
        schemathesis_run(
            origin, ADMIN_KEY, config, tmp_path / "admin", "--include-path-regex", "^/admin/"
        ),
    ]
    seconds = time.monotonic() - started
    drained = drain_jobs(pg_url, key)
    entries = [entry for _, _, run_entries in runs for entry in run_entries]
    statuses: dict[str, int] = {}
    for entry in entries:
        status = str(entry["response"]["status"])
        statuses[status] = statuses.get(status, 0) + 1
    reports = [report for _, report, _ in runs]
    summary = {
        "schemathesis": reports[0]["schemathesis_version"],
        "operations": sum(report["operations"]["tested"] for report in reports),
        "max_examples_per_operation": MAX_EXAMPLES,
        "test_cases": sum(report["test_cases"]["generated"] for report in reports),
        "requests_sent": len(entries),
        "server_errors": sum(n for status, n in statuses.items() if status.startswith("5")),
        "failures": sum(report["test_cases"]["unique_failures"] for report in reports),
        "responses_by_status": dict(sorted(statuses.items())),
        "seconds": round(seconds, 1),
        "seconds_to_drain_jobs": round(drained, 1),
        "checks": CHECKS,
    }
    SUMMARY.parent.mkdir(exist_ok=True)
    SUMMARY.write_text(json.dumps(summary, indent=2) + "\n")
    print("\nfuzz:", json.dumps(summary))

    for run, _, _ in runs:
        assert run.returncode == 0, run.stdout + run.stderr
    # Between them, the two runs test every operation of the schema.
    assert summary["operations"] == reports[0]["operations"]["total"], reports
    assert summary["server_errors"] == 0, summary


def _cjk(chars: int) -> str:
    """Text no compression shrinks (a repeated character fits any index entry once compressed)."""
    rng = random.Random(chars)
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(chars))


def _turn(**fields: Any) -> str:
    body = {"user_id": "edges", "conversation_id": "edges", **fields}
    body.setdefault("messages", [{"role": "user", "content": "我住在广州"}])
    return json.dumps(body, ensure_ascii=False)


def _said_at(when: str) -> str:
    """An add whose message was said at ``when``, a JSON value as written."""
    return (
        '{"user_id": "edges", "conversation_id": "edges-time", "messages": '
        f'[{{"role": "user", "content": "我住在广州", "chat_time": {when}}}]}}'
    )


def _filtered(path: str, condition: str) -> str:
    """A body for ``path`` (search, get or delete/memory) whose filter is ``condition``."""
    query = ', "query": "广州"' if path == "/search/memory" else ""
    return f'{{"user_id": "edges"{query}, "filter": {{"and": [{condition}]}}}}'


# Times at and past both ends of their range (docs/api.md, "Input rules"), written every way a
# client may.
TIMES = [
    '"0001-01-01T00:00:00Z"',
    '"0001-01-01T00:00:00+05:00"',
    '"1969-12-31T23:59:59Z"',
    '"1970-01-01T00:00:00Z"',
    '"9999-12-31T23:59:59.999Z"',
    '"9999-12-31T23:59:59-05:00"',
    '"10000-01-01T00:00:00Z"',
    "-1",
    "0",
    "253402300799999",
    "253402300800000",
    "1e300",
    "-1e300",
]
LONG = _cjk(3000)
ID_FIELDS = ("user_id", "conversation_id", "agent_id", "app_id")
# Numbers past what a float holds, or below its smallest step, in info and in filter values.
NUMBERS = ["1e999999", "-1e999999", "1e-200000", "1000000000000000000000000000000", "1e308"]
EDGES: list[tuple[str, str]] = [
    *[("/add/message", _said_at(when)) for when in TIMES],
    *[
        (
            "/add/feedback",
            f'{{"user_id": "edges", "feedback_content": "我搬家了", "feedback_time": {when}}}',
        )
        for when in TIMES
    ],
    *[
        (path, _filtered(path, f'{{"{field}": {{"gte": {when}}}}}'))
        for path in ("/search/memory", "/get/memory", "/delete/memory")
        for field in ("create_time", "update_time")
        for when in TIMES
    ],
    *[
        ("/search/memory", json.dumps({"user_id": "edges", "query": query}, ensure_ascii=False))
        for query in (
            "what did I do 3000 years ago",
            "1000000 days ago",
            "9999999 weeks ago",
            "9" * 3000 + " days ago",
            "3000年前我在做什么",
            "一百万天前",
            "九千九百九十九万年前",
        )
    ],
    *[("/add/message", _turn(**{field: LONG})) for field in ID_FIELDS],
    ("/add/message", _turn(tags=[LONG])),
    ("/add/message", _turn(tags=["t"] * 1000)),
    ("/add/message", _turn(info={LONG: 1})),
    ("/add/message", _turn(info={"k": [{LONG: LONG}]})),
    *[
        (path, json.dumps({"user_id": "edges", "agent_id": LONG, **extra}, ensure_ascii=False))
        for path, extra in (
            ("/search/memory", {"query": "广州"}),
            ("/get/memory", {}),
            ("/add/feedback", {"feedback_content": "我搬家了"}),
            ("/chat", {"conversation_id": "edges", "query": "我住在哪里"}),
        )
    ],
    *[
        ("/add/message", _turn(**{field: blank}))
        for field in ID_FIELDS
        for blank in (" ", "\u3000")
    ],
    # Stored first, then compared with: each add its own conversation, or it is a repeat.
    *[
        (
            "/add/message",
            _turn(conversation_id=f"price-{i}", info={}).replace(
                '"info": {}', f'"info": {{"price": {n}}}'
            ),
        )
        for i, n in enumerate(NUMBERS)
    ],
    # An add's expiry (docs/retention.md): every edge of a time and a number of seconds.
    *[
        (
            "/add/message",
            _turn(conversation_id=f"expiry-{i}", info={}).replace(
                '"info": {}', f'"info": {{"{key}": {value}}}'
            ),
        )
        for key, values in (
            ("expires_at", TIMES),
            ("ttl_seconds", [*NUMBERS, "0", "-1", "0.5", "true", "null", '"60"', "[60]"]),
        )
        for i, value in enumerate(values)
    ],
    *[
        (path, _filtered(path, f'{{"price": {{"{op}": {n}}}}}'))
        for path in ("/search/memory", "/get/memory", "/delete/memory")
        for op in ("gt", "lte", "eq")
        for n in NUMBERS
    ],
    *[("/get/memory", _filtered("/get/memory", f'{{"price": {n}}}')) for n in NUMBERS],
]


def test_explicit_edges_get_no_server_error(fine_api: Api, pg_url: str) -> None:
    """What generated requests rarely reach: every edge of times, lengths and numbers, sent as
    written, gets a 2xx or a 4xx envelope; afterwards every reader still answers."""
    server_errors = []
    for path, body in EDGES:
        response = fine_api.http.post(
            path, content=body.encode(), headers={"Content-Type": "application/json"}
        )
        if response.status_code >= 500:
            server_errors.append((path, body[:200], response.status_code, response.text[:200]))
        else:
            assert set(response.json()) == {"code", "message", "data"}, (path, response.text)
    assert server_errors == []
    for path, body in [
        ("/get/message", {"user_id": "edges", "conversation_id": "edges-time"}),
        ("/search/memory", {"user_id": "edges", "query": "广州"}),
        ("/get/memory", {"user_id": "edges", "size": 50}),
        ("/console/users", {}),
        ("/console/conversations", {"user_id": "edges"}),
        ("/console/memories", {"user_id": "edges"}),
    ]:
        fine_api.ok(path, body)
