"""Every size limit and the per-key rate limit: the edge passes, one over is refused clearly,
and each is a setting."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from memos_server.errors import RateLimited
from memos_server.services.rate_limit import RateLimiter, rate_limiter_for
from tests.support.api import Api
from tests.support.database import new_api_key
from tests.support.service import ServiceThread, make_settings

USER = {"user_id": "limits-user", "conversation_id": "limits-conv"}


def add(messages: list[dict[str, str]], **fields: Any) -> dict[str, Any]:
    return {**USER, "messages": messages, **fields}


def say(text: str, count: int = 1) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}] * count


@pytest.mark.parametrize(
    ("path", "at_limit", "over", "status", "code", "named"),
    [
        ("/add/message", add(say("hi", 200)), add(say("hi", 201)), 413, 40013, "messages"),
        ("/add/message", add(say("字" * 32_000)), add(say("字" * 32_001)), 413, 40013, "content"),
        (
            "/search/memory",
            {**USER, "query": "q" * 4_000},
            {**USER, "query": "q" * 4_001},
            413,
            40305,
            "query",
        ),
        (
            "/add/message",
            add(say("hi"), user_id="u" * 100),
            add(say("hi"), user_id="u" * 101),
            413,
            40010,
            "user_id",
        ),
        (
            "/get/message",
            {**USER, "conversation_id": "c" * 100},
            {**USER, "conversation_id": "c" * 101},
            413,
            40011,
            "conversation_id",
        ),
        (
            "/search/memory",
            {**USER, "query": "q", "memory_limit_number": 25},
            {**USER, "query": "q", "memory_limit_number": 26},
            400,
            40000,
            "memory_limit_number",
        ),
        (
            "/search/memory",
            {**USER, "query": "q", "preference_limit_number": 25},
            {**USER, "query": "q", "preference_limit_number": 26},
            400,
            40000,
            "preference_limit_number",
        ),
    ],
)
def test_each_limit_at_and_past_its_edge(
    api: Api, path: str, at_limit: Any, over: Any, status: int, code: int, named: str
) -> None:
    api.ok(path, at_limit)
    assert named in api.fails(path, over, status, code)


def test_a_refused_add_stores_nothing_and_keeps_what_was_there(api: Api) -> None:
    api.ok("/add/message", add(say("I keep a diary.")))
    api.fails("/add/message", add(say("x", 201)), 413, 40013)
    api.fails("/add/message", add([*say("fine"), *say("字" * 32_001)]), 413, 40013)
    history = api.ok("/get/message", USER)["message_detail_list"]
    assert [m["content"] for m in history] == ["I keep a diary."]


def test_the_limits_are_settings(
    api: Api, service: ServiceThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = service.runtime.settings.limits
    monkeypatch.setattr(limits, "max_query_chars", 10)
    monkeypatch.setattr(limits, "max_messages_per_add", 2)
    monkeypatch.setattr(limits, "max_message_chars", 5)
    monkeypatch.setattr(limits, "max_id_chars", len("limits-user"))
    monkeypatch.setattr(limits, "max_result_limit", 3)
    assert "10" in api.fails("/search/memory", {**USER, "query": "q" * 11}, 413, 40305)
    assert "at most 2" in api.fails("/add/message", add(say("hi", 3)), 413, 40013)
    assert "5" in api.fails("/add/message", add(say("hello!")), 413, 40013)
    api.fails("/add/message", add(say("hi"), user_id="limits-user2"), 413, 40010)
    api.fails("/search/memory", {**USER, "query": "q", "memory_limit_number": 4}, 400, 40000)


def test_a_key_over_its_rate_waits_retry_after(
    service: ServiceThread, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service.runtime, "rate_limiter", RateLimiter(rate=2, burst=3))
    body = {**USER, "query": "hotel"}
    with (
        Api(service.base_url, new_api_key(pg_url)) as busy,
        Api(service.base_url, new_api_key(pg_url)) as other,
    ):
        for _ in range(3):
            busy.ok("/search/memory", body)
        refused = busy.post("/search/memory", body)
        message = busy.error_of(refused, 429, 40300)
        assert "2 requests/s" in message
        assert refused.headers["Retry-After"] == "1"
        # Every endpoint that takes a key counts against it, and a key's limit is its own.
        busy.fails("/get/message", USER, 429, 40300)
        other.ok("/search/memory", body)
        time.sleep(int(refused.headers["Retry-After"]))
        busy.ok("/search/memory", body)


def test_refused_keys_are_not_rate_limited_but_still_refused(
    service: ServiceThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service.runtime, "rate_limiter", RateLimiter(rate=1, burst=1))
    with Api(service.base_url, "mk-not-a-real-key") as stranger:
        for _ in range(3):
            stranger.fails("/get/message", USER, 401, 40132)


def test_the_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=10, burst=2, clock=lambda: now[0])
    key = uuid.uuid4()
    limiter.take(key)
    limiter.take(key)
    with pytest.raises(RateLimited, match="retry after 1 s") as refused:
        limiter.take(key)
    assert refused.value.retry_after_s == 1
    now[0] += 0.1  # one request's worth
    limiter.take(key)
    now[0] += 60  # never more than the burst saved up
    limiter.take(key)
    limiter.take(key)
    with pytest.raises(RateLimited, match="too many requests"):
        limiter.take(key)


def test_the_default_rate_is_shared_by_worker_processes(tmp_path: Path) -> None:
    default = make_settings("postgresql://x", tmp_path, limits={})
    limiter = rate_limiter_for(default)
    assert limiter is not None
    assert (limiter.rate, limiter.burst) == (50, 100)
    two = make_settings("postgresql://x", tmp_path, limits={}, server={"workers": 2})
    shared = rate_limiter_for(two)
    assert shared is not None
    assert (shared.rate, shared.burst) == (25, 50)
    assert rate_limiter_for(make_settings("postgresql://x", tmp_path)) is None  # tests: off
