"""Postgres goes away under load and comes back; the service answers 503 meanwhile and recovers
without a restart, and every add it acknowledged is stored exactly once.

The service runs as its own process (fine mode against the scripted LLM, so its job worker runs,
and with per-user HNSW indexes switched on, so its index sync loop runs) on a Postgres of its own,
which the test stops (``pg_ctl stop -m immediate``, as a crash would) and starts again while the
load benchmark's clients (bench/load.py) send add/message back to back. Each add names itself by
its user and conversation and carries an Idempotency-Key of that name.

The figures go to test-artifacts/db-fault.json.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bench.load import Answer, add_call, run_clients
from memos_server.storage.repositories.vector_indexes import UserKind
from tests.fake_llm import FakeLLM
from tests.support.api import Api
from tests.support.database import project_of, sql
from tests.support.memories import store_memories
from tests.support.paths import ROOT
from tests.support.process import ServiceProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

CLIENTS = 6
BEFORE_S = 3.0  # load on a healthy database first
DOWN_S = 4.0  # how long Postgres stays stopped
AFTER_S = 2.0  # load once adds succeed again
ANSWER_BOUND_S = 8.0  # every request is answered within this, even while Postgres is down
RETRY_PAUSE_S = 0.2  # a client repeats a failed add (same Idempotency-Key) after this
RECOVERY_BOUND_S = 15.0
INDEX_MIN = 300  # memories that give a user an HNSW index of their own
ARTIFACT = ROOT / "test-artifacts" / "db-fault.json"


class OwnPostgres:
    """A pgserver Postgres for this test alone, stopped and started with its own pg_ctl."""

    def __init__(self, pgdata: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

        self.pgserver = pgserver
        self.server = pgserver.get_server(pgdata, cleanup_mode="delete")
        self.url: str = self.server.get_uri()
        self.socket_dir = parse_qs(urlsplit(self.url).query)["host"][0]
        self.running = True

    def _pg_ctl(self, *args: str) -> None:
        # As the user pgserver runs Postgres as (its own one when the tests run as root).
        self.pgserver.pg_ctl(
            list(args), pgdata=self.server.pgdata, user=self.server.system_user, timeout=60
        )

    def stop(self) -> None:
        self._pg_ctl("-w", "-m", "immediate", "stop")
        self.running = False

    def start(self) -> None:
        # As pgserver starts it: no TCP, the same socket directory, so the same URL works.
        log = str(self.server.pgdata / "log")
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", log, "start")
        self.running = True

    def cleanup(self) -> None:
        if not self.running:
            self.start()
        self.server.cleanup()


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[OwnPostgres]:
    postgres = OwnPostgres(tmp_path / "pg")
    yield postgres
    postgres.cleanup()


class Load:
    """The benchmark's add/message clients, in a thread, until stopped."""

    def __init__(self, base_url: str, api_key: str, run: str) -> None:
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        make_call = add_call(7, CLIENTS, run, keyed=True)
        clients = run_clients(
            base_url,
            api_key,
            CLIENTS,
            make_call,
            self._stop.is_set,
            self.answers.append,
            timeout_s=ANSWER_BOUND_S * 2,
            retry_after_s=RETRY_PAUSE_S,
        )
        self._thread = threading.Thread(target=asyncio.run, args=(clients,), daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=ANSWER_BOUND_S * 3)

    def first_ok_sent_after(self, moment: float) -> Answer | None:
        return next((a for a in list(self.answers) if a.sent >= moment and a.ok), None)


def ready_status(port: int) -> tuple[int, float]:
    started = time.perf_counter()
    status = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=30).status_code
    return status, time.perf_counter() - started


def marker(answer: Answer) -> tuple[str, str]:
    body = answer.call.body
    return body["user_id"], body["conversation_id"]


def stored_adds(database_url: str, project: str, run: str) -> dict[tuple[str, str], list[int]]:
    """(user, conversation) of every stored load add → [messages, distinct tasks]."""
    rows = sql(
        database_url,
        "SELECT user_id, conversation_id, count(*) AS messages, "
        "count(DISTINCT task_id) AS tasks FROM messages "
        "WHERE project_id = CAST(:p AS uuid) AND user_id LIKE :run GROUP BY 1, 2",
        p=project,
        run=f"bench-add-{run}-%",
    )
    return {(r["user_id"], r["conversation_id"]): [r["messages"], r["tasks"]] for r in rows}


def once(stored: dict[tuple[str, str], list[int]], add: tuple[str, str]) -> bool:
    return stored.get(add) == [4, 1]  # each load add is a 4-message conversation


def test_adds_survive_postgres_stopping_and_starting_under_load(
    own_postgres: OwnPostgres, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.script({})
    key = f"mk-fault-{uuid.uuid4().hex}"
    service = ServiceProcess(
        tmp_path,
        MEMOS_DATABASE__URL=own_postgres.url,
        MEMOS_DATA_DIR=str(tmp_path / "data"),
        MEMOS_API_KEY=key,
        MEMOS_LLM__BASE_URL=fake_llm.base_url,
        MEMOS_LLM__MODEL="fake-model",
        MEMOS_LLM__MAX_RETRIES="0",
        MEMOS_JOBS__LEASE_S="3",
        MEMOS_JOBS__POLL_INTERVAL_S="0.2",
        MEMOS_JOBS__RETRY_BASE_S="0.5",
        MEMOS_JOBS__MAX_ATTEMPTS="10",
        MEMOS_SEARCH__HNSW_MIN_MEMORIES=str(INDEX_MIN),
        MEMOS_SEARCH__HNSW_SYNC_INTERVAL_S="1",
    ).start()
    run = uuid.uuid4().hex[:6]
    try:
        with Load(service.base_url, key, run) as load:
            time.sleep(BEFORE_S)
            down_at = time.perf_counter()
            own_postgres.stop()
            time.sleep(DOWN_S / 2)
            ready_while_down = ready_status(service.port)
            with Api(service.base_url, key) as api:
                refused = api.post("/search/memory", {"user_id": "anyone", "query": "anything"})
            time.sleep(DOWN_S / 2)
            own_postgres.start()
            up_at = time.perf_counter()
            first = wait_until(
                lambda: load.first_ok_sent_after(up_at),
                RECOVERY_BOUND_S,
                "an add to succeed after Postgres started again",
            )
            recovered_s = first.sent + first.seconds - up_at
            first_failure = min(a.sent + a.seconds for a in load.answers if not a.ok)
            clients_saw_outage_s = first.sent + first.seconds - first_failure
            ready_after = ready_status(service.port)
            time.sleep(AFTER_S)
        answers = list(load.answers)
        project = project_of(own_postgres.url, key)

        # While Postgres was down: 503 with the database code and Retry-After, quickly; no 500s,
        # no answer slower than the bound.
        assert ready_while_down[0] == 503
        assert ready_while_down[1] < 3
        assert ready_after[0] == 200
        Api.error_of(refused, 503, 50004)
        assert refused.headers["Retry-After"] == "5"
        slowest = max(a.seconds for a in answers)
        assert slowest < ANSWER_BOUND_S
        failed = [a for a in answers if not a.ok]
        unavailable = [a for a in failed if a.status == 503]
        other = [a for a in failed if a.status != 503]
        assert not other, [a.problem for a in other[:5]]
        assert unavailable, "the outage produced no 503 at all"
        assert {(a.body["code"], a.body["message"]) for a in unavailable} == {
            (50004, "database unavailable, try again shortly")
        }
        assert all(a.sent + a.seconds >= down_at for a in unavailable)
        failed_after_up = [a for a in failed if a.sent >= up_at]
        assert len(failed_after_up) <= CLIENTS, [a.problem for a in failed_after_up]

        # Every acknowledged add is stored exactly once; one never acknowledged at most once.
        adds = {marker(a) for a in answers}
        acknowledged = [marker(a) for a in answers if a.ok]
        assert len(set(acknowledged)) == len(acknowledged)  # one success per add
        retried = {marker(a) for a in failed}
        stored = stored_adds(own_postgres.url, project, run)
        lost = [add for add in acknowledged if add not in stored]
        duplicates = [add for add, counts in stored.items() if counts[0] > 4 or counts[1] > 1]
        assert not lost
        assert not duplicates
        assert all(once(stored, add) for add in acknowledged)
        assert set(stored) <= adds
        stored_during_load = len(stored)

        # The adds still failing when the load stopped, repeated with their Idempotency-Key:
        # now every add sent is stored, still exactly once.
        unanswered = adds - set(acknowledged)
        assert len(unanswered) <= CLIENTS
        with Api(service.base_url, key) as api:
            for user, conversation in sorted(unanswered):
                call = next(a.call for a in answers if marker(a) == (user, conversation))
                headers = {"Idempotency-Key": f"{user}-{conversation}"}
                Api.data_of(api.http.post(call.path, json=call.body, headers=headers))
        stored = stored_adds(own_postgres.url, project, run)
        assert set(stored) == adds
        assert all(once(stored, add) for add in stored)

        # The job worker lived through it: every add's fine extraction finishes.
        def jobs_left() -> int:
            [row] = sql(
                own_postgres.url,
                "SELECT count(*) AS n FROM tasks WHERE project_id = CAST(:p AS uuid) "
                "AND status <> 'completed'",
                p=project,
            )
            return int(row["n"])

        wait_until(lambda: jobs_left() == 0, 60, "every add's job to finish")

        # So did the index sync loop: a user who grows past the threshold now gets an index,
        # and searches find their memories.
        grown = "grown-after-outage"
        store_memories(own_postgres.url, key, grown, INDEX_MIN + 10)
        index = UserKind(uuid.UUID(project), grown, "fact").index_name

        def indexed() -> bool:
            rows = sql(
                own_postgres.url,
                "SELECT 1 FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
                "WHERE c.relname = :name AND i.indisvalid",
                name=index,
            )
            return bool(rows)

        wait_until(indexed, 30, "the index sync loop to index a user grown after the outage")
        with Api(service.base_url, key) as api:
            # Stored vectors are made up, not the model's: no floor, every memory is a hit.
            body = {"user_id": grown, "query": "bulk memory", "relativity": 0}
            found = api.ok("/search/memory", body)
        assert found["memory_detail_list"]
        output = service.output()
        assert "Task exception was never retrieved" not in output
        assert "Exception in ASGI application" not in output
    finally:
        service.stop()

    figures: dict[str, Any] = {
        "clients": CLIENTS,
        "postgres_down_s": DOWN_S,
        "requests_sent": len(answers),
        "adds_sent": len(adds),
        "adds_acknowledged_during_load": len(acknowledged),
        "answers_503": len(unavailable),
        "answers_other_failure": len(other),
        "adds_repeated_after_a_failure": len(retried),
        "failures_after_restart": len(failed_after_up),
        "stored_during_load": stored_during_load,
        "stored_after_repeats": len(stored),
        "duplicates": len(duplicates),
        "lost": len(lost),
        "seconds_to_recover": round(recovered_s, 2),  # from Postgres accepting connections
        "seconds_clients_saw_failures": round(clients_saw_outage_s, 2),
        "slowest_answer_s": round(slowest, 2),
        "readyz_while_down": {"status": ready_while_down[0], "s": round(ready_while_down[1], 3)},
    }
    print(json.dumps(figures, indent=2))
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(figures, indent=2) + "\n")
