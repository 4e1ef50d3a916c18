"""A very long Chinese message: linear work, none of it on the event loop.

One 32,000-character message ("广州旅游酒店" × 5333) used to take tens of seconds to add, and the
service answered nothing else meanwhile: window fitting recounted the rest of the text at every
cut (quadratic), jieba's HMM is quadratic in an unbroken run of characters it does not know, and
both ran on the event loop.
"""

from __future__ import annotations

import statistics
import threading
import time

import httpx

from memos_server.text.tokens import index_tokens, query_tokens
from memos_server.text.windows import Turn, build_windows
from tests.support.api import Api
from tests.support.service import ServiceThread

PHRASE = "广州旅游酒店"
LONG = PHRASE * 5333  # 31,998 characters, the message


def counted_characters(text: str) -> tuple[int, int]:
    """(characters the tokenizer was shown, windows) for one turn of ``text``; a CJK tokenizer's
    count, one token per character."""
    shown = 0

    def count_tokens(piece: str) -> int:
        nonlocal shown
        shown += len(piece)
        return len(piece)

    windows = build_windows(
        [Turn(0, "user", text)], max_turns=4, max_tokens=256, count_tokens=count_tokens
    )
    assert "".join(w.text.removeprefix("user: ") for w in windows) == text
    assert all(w.tokens <= 256 for w in windows)
    return shown, len(windows)


def test_hardening_04_window_fitting_is_linear() -> None:
    small, small_windows = counted_characters(LONG[:3_200])
    large, large_windows = counted_characters(LONG)
    assert large_windows > 9 * small_windows
    # Ten times the text: about ten times the tokenizer's work (quadratic fitting showed it
    # ~65 times as much, 20 million characters for this message).
    assert large <= 12 * small, (small, large)
    assert large <= 8 * len(LONG), large


def best_of_three(work: object, text: str) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        work(text)  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def test_hardening_04_segmenting_a_long_run_is_linear() -> None:
    # Reversed, the phrase is no dictionary word: jieba's HMM guesses at it (quadratic per run).
    unknown = LONG[::-1]
    index_tokens(unknown[:100])  # the dictionary is loaded before anything is timed
    for work in (index_tokens, query_tokens):
        small = best_of_three(work, unknown[:4_000])
        large = best_of_three(work, unknown)
        # 8× the text: ~8× the time (it was ~50×, 11 s for the whole message).
        assert large < 20 * small + 0.2, (work, small, large)
    assert index_tokens(LONG).split()[:3] == ["广州", "旅游", "酒店"]


class HealthProbe:
    """Polls ``/healthz`` from its own thread, keeping every latency."""

    def __init__(self, service: ServiceThread) -> None:
        self.url = f"http://127.0.0.1:{service.port}/healthz"
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        deadline = time.monotonic() + 30
        while len(self.latencies) < 3 and time.monotonic() < deadline:  # connected and warm
            time.sleep(0.01)
        self.latencies.clear()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                assert client.get(self.url).status_code == 200
                self.latencies.append(time.perf_counter() - started)
                time.sleep(0.01)


def timed(service: ServiceThread, api: Api, path: str, body: object) -> tuple[float, HealthProbe]:
    with HealthProbe(service) as probe:
        started = time.perf_counter()
        api.ok(path, body)
        elapsed = time.perf_counter() - started
    return elapsed, probe


def test_hardening_04_long_chinese_message_is_linear_and_off_the_loop(
    service: ServiceThread, api: Api
) -> None:
    user = "long-message-user"
    api.ok("/add/message", {"user_id": user, "conversation_id": "warm", "messages": [
        {"role": "user", "content": "你好"}]})  # fmt: skip
    # Generous bounds for a loaded 2-core box; before, the add took 22-37 s and /healthz 9-15 s.
    # (Measured figures: bench/long_message.py.)
    elapsed, probe = timed(
        service,
        api,
        "/add/message",
        {
            "user_id": user,
            "conversation_id": "long",
            "messages": [{"role": "user", "content": LONG}],
        },
    )
    assert elapsed < 10, elapsed
    assert max(probe.latencies) < 1.0, (max(probe.latencies), statistics.median(probe.latencies))
    listed = api.ok("/get/memory", {"user_id": user, "size": 50})
    # The warm-up, and the message in numbered parts ("… (i/n)"), none of them over the budget.
    parts = [m for m in listed["memory_detail_list"] if m["memory_key"].endswith(")")]
    count = int(parts[0]["memory_key"].rsplit("/", 1)[1].rstrip(")"))
    assert listed["total"] == 1 + count
    assert count > 80  # multilingual-e5-small's pieces hold one to a few Chinese characters
    assert parts, [m["memory_key"] for m in listed["memory_detail_list"]][:3]

    # The same text as feedback, and (reversed: words jieba does not know) as a memory's update.
    elapsed, probe = timed(
        service,
        api,
        "/add/feedback",
        {"user_id": user, "conversation_id": "long", "feedback_content": LONG},
    )
    assert elapsed < 10, elapsed
    assert max(probe.latencies) < 1.0, max(probe.latencies)
    elapsed, probe = timed(
        service,
        api,
        "/update/memory",
        {"user_id": user, "memory_id": parts[0]["id"], "content": LONG[::-1]},
    )
    assert elapsed < 10, elapsed
    assert max(probe.latencies) < 1.0, max(probe.latencies)
    found = api.ok("/search/memory", {"user_id": user, "query": "广州旅游酒店"})
    assert found["memory_detail_list"]
