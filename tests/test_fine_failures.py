"""Fine mode when the model misbehaves: malformed answers, errors, timeouts, no JSON mode.

Whatever happens, the raw messages and their fast-mode memories stay, and the task says why it
failed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from memos_server.llm.openai_chat import OpenAIChat
from memos_server.settings import LLMSettings
from tests.fake_llm import FakeLLM, Reply, reply_json
from tests.support.api import Api
from tests.support.conversations import SEED_HOTEL

VALUE = "[user观点]用户选择了七天酒店。"
FACT = {"memory_key": "七天酒店", "memory_value": VALUE, "tags": ["酒店"]}
ITEM = json.dumps({"memory_key": "七天酒店", "memory_value": VALUE}, ensure_ascii=False)
GOOD = f'{{"memories": [{ITEM}]}}'

SHAPES = {
    "think block": "<think>用户选了七天……</think>" + GOOD,
    "code fence": f"```json\n{GOOD}\n```",
    "trailing comma": GOOD.replace("}]}", "},],}"),
    "single quotes": GOOD.replace('"', "'"),
    "top-level list": f"[{ITEM}]",
    "keys in Chinese": ITEM.replace("memory_key", "标题").replace("memory_value", "内容"),
}


def add(api: Api) -> dict[str, Any]:
    data: dict[str, Any] = api.ok(
        "/add/message",
        {"user_id": "u1", "conversation_id": "c1", "messages": SEED_HOTEL, "async_mode": False},
    )
    return data


def memories(api: Api) -> list[dict[str, Any]]:
    found = api.ok("/search/memory", {"user_id": "u1", "query": "酒店", "memory_limit_number": 25})
    result: list[dict[str, Any]] = found["memory_detail_list"]
    return result


def status(api: Api, task_id: str) -> dict[str, Any]:
    [task] = api.ok("/get/status", {"task_id": task_id})
    result: dict[str, Any] = task
    return result


def assert_fast_memories_kept(api: Api) -> None:
    kept = memories(api)
    assert kept
    assert all(m["tags"] == ["mode:fast"] for m in kept)
    history = api.ok("/get/message", {"user_id": "u1", "conversation_id": "c1"})
    assert len(history["message_detail_list"]) == len(SEED_HOTEL)


@pytest.mark.parametrize("shape", SHAPES)
def test_each_malformed_shape_is_read(fine_api: Api, fake_llm: FakeLLM, shape: str) -> None:
    fake_llm.script({"facts": Reply(content=SHAPES[shape])})

    task = add(fine_api)

    assert task["status"] == "completed"
    assert [m["memory_value"] for m in memories(fine_api)] == [VALUE]
    assert len(fake_llm.calls("facts")) == 1  # read as it was, no second request


def test_an_unusable_answer_is_asked_again_with_the_reason(
    fine_api: Api, fake_llm: FakeLLM
) -> None:
    answers = iter(
        [Reply(content='{"memories": [{"memory_key": "k"}]}'), reply_json({"memories": [FACT]})]
    )
    fake_llm.script({"facts": lambda request: next(answers)})

    assert add(fine_api)["status"] == "completed"

    _, second = fake_llm.calls("facts")
    repair = second["messages"]
    assert repair[1] == {"role": "assistant", "content": '{"memories": [{"memory_key": "k"}]}'}
    assert "Your answer could not be used: memory_value: Field required" in repair[2]["content"]
    assert [m["memory_value"] for m in memories(fine_api)] == [FACT["memory_value"]]


def test_an_unusable_item_is_left_out_and_the_rest_kept(fine_api: Api, fake_llm: FakeLLM) -> None:
    broken = {"memory_key": "", "memory_value": "[user观点]用户没说清楚。"}
    fake_llm.script({"facts": reply_json({"memories": [broken, FACT]})})

    assert add(fine_api)["status"] == "completed"

    assert [m["memory_value"] for m in memories(fine_api)] == [VALUE]
    assert len(fake_llm.calls("facts")) == 1  # nothing to ask again: one item was usable


def test_two_unusable_answers_fail_the_task_and_keep_the_fast_memories(
    fine_api: Api, fake_llm: FakeLLM
) -> None:
    fake_llm.script({"facts": Reply(content="Sorry, I cannot help with that.")})

    task = add(fine_api)

    assert task["status"] == "failed"
    reported = status(fine_api, task["task_id"])
    assert reported["status"] == "failed"
    assert "fine extraction failed (the answer holds no JSON object)" in reported["error"]
    assert len(fake_llm.calls("facts")) == 2
    assert_fast_memories_kept(fine_api)


def test_an_unusable_preferences_answer_keeps_the_facts(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script(
        {
            "facts": reply_json({"memories": [FACT]}),
            "preferences": Reply(content="抱歉，我无法回答。"),
        }
    )

    task = add(fine_api)

    assert task["status"] == "completed"
    reported = status(fine_api, task["task_id"])
    assert reported["status"] == "completed"
    assert "preferences" in reported["error"]
    assert "the answer holds no JSON object" in reported["error"]
    assert len(fake_llm.calls("preferences")) == 2  # asked again once, as any unusable answer
    assert [m["memory_value"] for m in memories(fine_api)] == [VALUE]
    assert reported["memory_views"]["added"]


def test_the_model_failing_with_500_keeps_the_fast_memories(
    fine_api: Api, fake_llm: FakeLLM
) -> None:
    fake_llm.script({"facts": Reply(status=500, error="upstream exploded")})

    task = add(fine_api)

    assert task["status"] == "failed"
    assert "HTTP 500" in status(fine_api, task["task_id"])["error"]
    # Two job attempts (max_attempts=2), each one call and one retry (max_retries=1).
    assert len(fake_llm.calls("facts")) == 4
    assert_fast_memories_kept(fine_api)


def test_a_passing_500_is_retried(fine_api: Api, fake_llm: FakeLLM) -> None:
    answers = iter([Reply(status=503), reply_json({"memories": [FACT]})])
    fake_llm.script({"facts": lambda request: next(answers)})

    assert add(fine_api)["status"] == "completed"
    assert [m["memory_value"] for m in memories(fine_api)] == [FACT["memory_value"]]


def test_the_model_timing_out_keeps_the_fast_memories(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({"facts": Reply(content=GOOD, delay_s=1.5)})  # the client waits 1 s

    task = add(fine_api)

    assert task["status"] == "failed"
    assert "timed out" in status(fine_api, task["task_id"])["error"]
    assert_fast_memories_kept(fine_api)


def _completion(message: Any, **extra: Any) -> bytes:
    return json.dumps({"choices": [{"index": 0, "message": message}], **extra}).encode()


NOT_COMPLETIONS = {
    "an HTML page": Reply(raw=b"<html>Bad gateway</html>", raw_type="text/html"),
    "a JSON string": Reply(raw=b'"just a string"'),
    "not UTF-8": Reply(raw=b'\xff{"choices": []}'),
    "a choice without a message": Reply(raw=b'{"choices": [{"index": 0}]}'),
    "content that is a number": Reply(raw=_completion({"role": "assistant", "content": 5})),
    "a message that is a string": Reply(raw=b'{"choices": [{"index": 0, "message": "hello"}]}'),
}


@pytest.mark.parametrize("answer", NOT_COMPLETIONS)
def test_an_answer_that_is_not_a_chat_completion_fails_the_task_not_the_service(
    fine_api: Api, fake_llm: FakeLLM, answer: str
) -> None:
    fake_llm.script({"facts": NOT_COMPLETIONS[answer], "preferences": NOT_COMPLETIONS[answer]})

    task = add(fine_api)

    assert task["status"] == "failed"
    assert "not a chat completion" in status(fine_api, task["task_id"])["error"]
    assert_fast_memories_kept(fine_api)
    # Asked directly, the same answer is the LLM's failure (503), not the service's (500).
    extract = {"messages": [{"role": "user", "content": "我下周去成都出差"}], "mode": "fine"}
    assert "not a chat completion" in fine_api.fails("/extract/memory", extract, 503, 50004)


def test_token_counts_missing_from_the_answer_count_as_none(
    fine_api: Api, fake_llm: FakeLLM
) -> None:
    content = {"role": "assistant", "content": json.dumps({"memories": [FACT]})}
    fake_llm.script({"facts": Reply(raw=_completion(content, usage={"prompt_tokens": None}))})

    assert add(fine_api)["status"] == "completed"
    assert [m["memory_value"] for m in memories(fine_api)] == [FACT["memory_value"]]


def test_an_answer_dripped_past_the_timeout_times_out(fine_api: Api, fake_llm: FakeLLM) -> None:
    """A blank every 0.3 s never leaves the client 1 s without a byte, yet the call as a whole
    is held to its 1 s."""
    fake_llm.script({"facts": Reply(content=GOOD, drip_s=0.3)})

    task = add(fine_api)

    assert task["status"] == "failed"
    assert "timed out" in status(fine_api, task["task_id"])["error"]
    assert_fast_memories_kept(fine_api)


def test_an_endpoint_without_json_mode_is_prompted_plainly(fake_llm: FakeLLM) -> None:
    fake_llm.script({"other": Reply(content='{"ok": true}')})
    fake_llm.rejects_response_format = True
    chat = OpenAIChat(LLMSettings(base_url=fake_llm.base_url, model="plain-model", max_retries=0))

    async def twice() -> list[str]:
        try:
            first = await chat.complete([{"role": "user", "content": "hi"}], json_output=True)
            second = await chat.complete([{"role": "user", "content": "hi"}], json_output=True)
            return [first.text, second.text]
        finally:
            await chat.aclose()

    assert asyncio.run(twice()) == ['{"ok": true}', '{"ok": true}']
    refused, retried, later = fake_llm.calls()
    assert refused["response_format"] == {"type": "json_object"}
    assert "response_format" not in retried
    assert "response_format" not in later  # remembered: not asked again


def test_json_mode_off_never_asks(fake_llm: FakeLLM) -> None:
    fake_llm.script({"other": Reply(content="{}")})
    chat = OpenAIChat(LLMSettings(base_url=fake_llm.base_url, model="m", json_mode="off"))

    async def once() -> None:
        try:
            await chat.complete([{"role": "user", "content": "hi"}], json_output=True)
        finally:
            await chat.aclose()

    asyncio.run(once())
    assert "response_format" not in fake_llm.calls()[0]
