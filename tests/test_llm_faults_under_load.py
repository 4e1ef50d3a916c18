"""The LLM slow, failing and answering garbage while adds and searches keep coming: every add is
acknowledged at once and stored once, searches keep answering, and every task ends (completed or
failed, never stuck), keeping its fast memories when the model lets it down."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.fake_llm import FakeLLM, Reply, reply_json
from tests.support.api import Api
from tests.support.database import new_api_key
from tests.support.service import ServiceThread
from tests.support.waiting import wait_until

ADDS = 24
GOOD_FACT = {"memory_key": "爱好", "memory_value": "[user观点]用户喜欢爬山。", "tags": ["爱好"]}


def misbehaving_model() -> Any:
    """In turn: a slow good answer, an HTTP 500, garbage, a good answer."""
    turns = itertools.cycle(
        [
            Reply(content=reply_json({"memories": [GOOD_FACT]}).content, delay_s=0.4),
            Reply(status=500, error="upstream exploded"),
            Reply(content="I'm sorry, as an AI I cannot output JSON {{{"),
            reply_json({"memories": [GOOD_FACT], "preferences": []}),
        ]
    )
    lock = threading.Lock()

    def answer(_: dict[str, Any]) -> Reply:
        with lock:
            return next(turns)

    return answer


def test_adds_and_searches_ride_out_a_misbehaving_model(
    fine_service: ServiceThread, pg_url: str, fake_llm: FakeLLM
) -> None:
    model = misbehaving_model()
    fake_llm.script({"facts": model, "preferences": model, "reconcile": model})
    key = new_api_key(pg_url)

    def add(i: int) -> tuple[str, float]:
        started = time.monotonic()
        with Api(fine_service.base_url, key) as api:
            data = api.ok(
                "/add/message",
                {
                    "user_id": f"u{i % 6}",
                    "conversation_id": f"c{i}",
                    "messages": [{"role": "user", "content": f"我周末喜欢爬山，第{i}次说。"}],
                },
            )
        return data["task_id"], time.monotonic() - started

    def search(i: int) -> float:
        started = time.monotonic()
        with Api(fine_service.base_url, key) as api:
            api.ok("/search/memory", {"user_id": f"u{i % 6}", "query": "爬山"})
        return time.monotonic() - started

    with ThreadPoolExecutor(8) as pool:
        adds = pool.map(add, range(ADDS))
        searches = pool.map(search, range(ADDS))
        added, searched = list(adds), list(searches)
    assert len({task for task, _ in added}) == ADDS
    # Acknowledged without waiting for the model (bounds generous for a busy 2-core machine).
    assert max(seconds for _, seconds in added) < 10
    assert max(searched) < 10

    with Api(fine_service.base_url, key) as api:

        def settled() -> list[str] | None:
            states = [api.ok("/get/status", {"task_id": t})[0]["status"] for t, _ in added]
            return None if "running" in states else states

        states = wait_until(settled, 90, "every task to end")
        assert set(states) <= {"completed", "failed"}
        for i in range(6):
            found = api.ok("/search/memory", {"user_id": f"u{i}", "query": "爬山"})
            assert found["memory_detail_list"], f"u{i} lost its memories"
        stored = sum(
            len(
                api.ok("/get/message", {"user_id": f"u{i % 6}", "conversation_id": f"c{i}"})[
                    "message_detail_list"
                ]
            )
            for i in range(ADDS)
        )
    assert stored == ADDS
