"""/chat: the configured model answers with the user's memories, as JSON or server-sent events,
and the exchange is stored as a turn of the conversation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from memos_server.llm.think import ThinkSplitter, split_answer
from tests.fake_llm import FakeLLM, Reply, reply_json
from tests.support.api import Api
from tests.support.conversations import SEED_HOTEL
from tests.support.waiting import wait_until
from tests.test_fine_mode import HOTEL_FACT, HOTEL_PREFERENCE

QUERY = "我国庆想出去玩，帮我推荐个没住过的酒店品牌"
ANSWER = "国庆可以去成都，这次试试全季酒店吧。"


def ask(api: Api, query: str = QUERY, conversation: str = "0928", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = api.ok(
        "/chat", {"user_id": "u1", "conversation_id": conversation, "query": query, **extra}
    )
    return data


def history(api: Api, conversation: str = "0928") -> list[dict[str, Any]]:
    found = api.ok("/get/message", {"user_id": "u1", "conversation_id": conversation})
    messages: list[dict[str, Any]] = found["message_detail_list"]
    return messages


def seed_hotel_memories(api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script(
        {
            "facts": reply_json({"memories": [HOTEL_FACT]}),
            "preferences": reply_json({"preferences": [HOTEL_PREFERENCE]}),
        }
    )
    api.ok(
        "/add/message",
        {"user_id": "u1", "conversation_id": "0610", "messages": SEED_HOTEL, "async_mode": False},
    )


def stream(api: Api, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The SSE events of one streamed chat, as (event name, parsed data), checking the framing."""
    request = {"user_id": "u1", "conversation_id": "0928", "stream": True, **body}
    with api.http.stream("POST", "/chat", json=request) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        raw = response.read().decode()
    assert raw.endswith("\n\n")
    events = []
    for block in raw.removesuffix("\n\n").split("\n\n"):
        event, data = block.split("\n")
        assert event.startswith("event: ")
        assert data.startswith("data: ")
        events.append((event.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


def kinds(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [data["type"] for _, data in events]


def joined(events: list[tuple[str, dict[str, Any]]], kind: str) -> str:
    return "".join(data["data"] for _, data in events if data["type"] == kind)


# --------------------------------------------------------------------------- no LLM configured


def test_without_an_llm_chat_is_a_503_naming_the_settings(api: Api) -> None:
    for streamed in (False, True):
        body = {"user_id": "u1", "conversation_id": "c", "query": "hi", "stream": streamed}
        message = api.fails("/chat", body, 503, 50004)
        assert "MEMOS_LLM__BASE_URL" in message
        assert "MEMOS_LLM__MODEL" in message
    assert history(api, "c") == []


def test_chat_validation(api: Api) -> None:
    assert "query" in api.fails("/chat", {"user_id": "u1", "conversation_id": "c"}, 400, 40002)
    assert "query" in api.fails(
        "/chat", {"user_id": "u1", "conversation_id": "c", "query": "  "}, 400, 40002
    )
    assert "conversation_id" in api.fails("/chat", {"user_id": "u1", "query": "hi"}, 400, 40002)
    api.fails(
        "/chat", {"user_id": "u1", "conversation_id": "c", "query": "hi", "top_p": 2}, 400, 40000
    )


# ------------------------------------------------------------------------------------- answers


def test_chat_answers_with_the_users_memories(fine_api: Api, fake_llm: FakeLLM) -> None:
    seed_hotel_memories(fine_api, fake_llm)
    fake_llm.script({"chat": Reply(content=ANSWER)})

    data = ask(
        fine_api,
        system_prompt="你是一个旅行助手。",
        model_name="gpt-4o",  # a cloud model name: the configured model answers
        temperature=0.3,
        top_p=0.9,
        max_tokens=8192,
        # What the SDK sends besides:
        internet_search=False,
        relativity=None,
        include_tool_memory=False,
        knowledgebase_ids=None,
    )

    assert data["response"] == ANSWER
    assert data["reasoning"] is None
    [call] = fake_llm.calls("chat")
    assert call["model"] == "fake-model"
    assert (call["temperature"], call["top_p"], call["max_tokens"]) == (0.3, 0.9, 2048)
    assert not call.get("stream")
    assert "response_format" not in call
    system = call["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("你是一个旅行助手。\n\n# 任务：结合用户记忆回答")
    assert f") {HOTEL_FACT['memory_value']}\n" in system["content"]
    assert f", 隐性) {HOTEL_PREFERENCE['preference']}\n" in system["content"]
    assert "当前时间：" in system["content"]
    assert call["messages"][-1] == {"role": "user", "content": QUERY}
    # The exchange is a new turn of the conversation, made into memories like any add.
    assert [(m["role"], m["content"]) for m in history(fine_api)] == [
        ("user", QUERY),
        ("assistant", ANSWER),
    ]
    [task] = wait_until(
        lambda: [
            t
            for t in fine_api.ok("/get/status", {"task_id": data["task_id"]})
            if t["status"] == "completed"
        ],
        30,
        "the stored turn's extraction",
    )
    assert task["task_id"] == data["task_id"]
    assert len(fake_llm.calls("facts")) == 1  # fine extraction ran on the stored turn


def test_english_queries_get_the_english_prompt(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({"chat": Reply(content="Try the seaside.")})

    data = ask(fine_api, "Where should I go this weekend?", "en-1")

    assert data["response"] == "Try the seaside."
    system = fake_llm.calls("chat")[0]["messages"][0]["content"]
    assert system.startswith("# Task: answer with the user's memories")
    assert "## What you remember about the user\n(none)" in system


def test_add_message_on_answer_false_stores_nothing(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({"chat": Reply(content=ANSWER)})

    data = ask(fine_api, add_message_on_answer=False)

    assert data == {"response": ANSWER, "reasoning": None, "task_id": None}
    assert history(fine_api) == []
    assert fake_llm.calls("facts") == []


def test_the_conversation_so_far_goes_to_the_model(fine_api: Api, fake_llm: FakeLLM) -> None:
    answers = iter([Reply(content="你好，小明。"), Reply(content="你叫小明。")])
    fake_llm.script({"chat": lambda request: next(answers)})

    ask(fine_api, "你好，我叫小明", "c-hist")
    second = ask(fine_api, "我刚才说我叫什么？", "c-hist")

    assert second["response"] == "你叫小明。"
    _, call = fake_llm.calls("chat")
    assert call["messages"][1:] == [
        {"role": "user", "content": "你好，我叫小明"},
        {"role": "assistant", "content": "你好，小明。"},
        {"role": "user", "content": "我刚才说我叫什么？"},
    ]


def test_reasoning_is_kept_apart_from_the_answer(fine_api: Api, fake_llm: FakeLLM) -> None:
    answers = iter(
        [
            Reply(content="<think>用户想出去玩。</think>\n\n去成都吧。"),
            Reply(content="去成都吧。", reasoning="用户想出去玩。"),
        ]
    )
    fake_llm.script({"chat": lambda request: next(answers)})

    for _ in range(2):
        data = ask(fine_api, add_message_on_answer=False)
        assert (data["response"], data["reasoning"]) == ("去成都吧。", "用户想出去玩。")


def test_a_failing_model_is_a_503_and_nothing_is_stored(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({"chat": Reply(status=500, error="upstream exploded")})

    body = {"user_id": "u1", "conversation_id": "0928", "query": QUERY}
    message = fine_api.fails("/chat", body, 503, 50004)

    assert "HTTP 500" in message
    assert len(fake_llm.calls("chat")) == 2  # one call and one retry (max_retries=1)
    assert history(fine_api) == []


def test_limits_are_checked_before_the_model_is_called(fine_api: Api, fake_llm: FakeLLM) -> None:
    body = {"user_id": "u1", "conversation_id": "c", "query": "hi", "memory_limit_number": 26}
    assert "at most 25" in fine_api.fails("/chat", body, 400, 40000)
    fine_api.fails("/chat", {**body, "memory_limit_number": 6, "user_id": "u" * 101}, 413, 40010)
    long_prompt = {**body, "memory_limit_number": 6, "system_prompt": "长" * 32_001}
    message = fine_api.fails("/chat", long_prompt, 413, 40305)
    assert message == "system_prompt is longer than 32000 characters"
    assert fake_llm.calls() == []


# ------------------------------------------------------------------------------------- streams


def test_a_streamed_answer_in_the_clouds_format(fine_api: Api, fake_llm: FakeLLM) -> None:
    seed_hotel_memories(fine_api, fake_llm)
    pieces = ["国庆可以", "去成都，", "这次试试", "全季酒店吧。"]
    fake_llm.script({"chat": Reply(content=ANSWER, chunks=pieces)})

    events = stream(fine_api, {"query": QUERY})

    assert {name for name, _ in events} == {"message"}
    assert kinds(events) == ["text"] * 4 + ["end"]
    assert [data["data"] for _, data in events[:4]] == pieces
    end = events[-1][1]["data"]
    assert end["response"] == ANSWER
    assert end["task_id"]
    [call] = fake_llm.calls("chat")
    assert call["stream"] is True
    assert HOTEL_FACT["memory_value"] in call["messages"][0]["content"]
    assert [(m["role"], m["content"]) for m in history(fine_api)] == [
        ("user", QUERY),
        ("assistant", ANSWER),
    ]


def test_a_streamed_answer_with_reasoning(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({"chat": Reply(content="去成都吧。", reasoning="用户想出去玩，推荐一个城市。")})

    events = stream(fine_api, {"query": QUERY, "add_message_on_answer": False})

    assert kinds(events) == ["reasoning"] * 4 + ["text"] * 2 + ["end"]
    assert joined(events, "reasoning") == "用户想出去玩，推荐一个城市。"
    assert joined(events, "text") == "去成都吧。"
    assert events[-1][1]["data"] == {"response": "去成都吧。", "task_id": None}


def test_a_think_block_split_across_pieces_is_reasoning(fine_api: Api, fake_llm: FakeLLM) -> None:
    pieces = ["<thi", "nk>先想", "想。</th", "ink>\n\n", "去成都", "吧。"]
    fake_llm.script({"chat": Reply(content="".join(pieces), chunks=pieces)})

    events = stream(fine_api, {"query": QUERY})

    assert joined(events, "reasoning") == "先想想。"
    assert joined(events, "text") == "去成都吧。"
    assert kinds(events)[-1] == "end"
    assert history(fine_api)[-1]["content"] == "去成都吧。"


def test_a_stream_broken_off_ends_with_an_error_event(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({"chat": Reply(content=ANSWER, chunks=["国庆可以", "去成都"], break_after=1)})

    events = stream(fine_api, {"query": QUERY})

    assert kinds(events) == ["text", "error", "end"]
    assert "broke off" in events[1][1]["data"]
    assert events[-1][1]["data"] == {"response": "国庆可以", "task_id": None}
    assert history(fine_api) == []  # half an answer is not a turn


def test_a_stream_that_ends_unfinished_is_broken_off(fine_api: Api, fake_llm: FakeLLM) -> None:
    """The body ends (the connection closed) with no finish and no [DONE]: half an answer."""
    fake_llm.script({"chat": Reply(content=ANSWER, chunks=["国庆可以", "去成都"], unfinished=True)})

    events = stream(fine_api, {"query": QUERY})

    assert kinds(events) == ["text", "text", "error", "end"]
    assert "broke off" in events[2][1]["data"]
    assert history(fine_api) == []


def test_a_stream_that_cannot_start_is_a_503(fine_api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.script({"chat": Reply(status=500)})

    body = {"user_id": "u1", "conversation_id": "0928", "query": QUERY, "stream": True}
    assert "HTTP 500" in fine_api.fails("/chat", body, 503, 50004)
    assert history(fine_api) == []


# --------------------------------------------------------------------------- <think> splitting


@pytest.mark.parametrize(
    ("pieces", "answer", "reasoning"),
    [
        (["plain answer"], "plain answer", ""),
        (["<think>a</think>b"], "b", "a"),
        (["  <think>", "a", "</think>", "\n\n", "b"], "b", "a"),
        (["<", "t", "h", "i", "n", "k", ">x</", "think", ">y"], "y", "x"),
        (["<think>cut off"], "", "cut off"),
        (["<b>bold</b>"], "<b>bold</b>", ""),
        (["The tag <think> only counts first."], "The tag <think> only counts first.", ""),
        (["<thin"], "<thin", ""),
    ],
)
def test_think_splitter(pieces: list[str], answer: str, reasoning: str) -> None:
    splitter = ThinkSplitter()
    out = [d for piece in pieces for d in splitter.feed(piece)] + splitter.flush()
    assert "".join(d.text for d in out) == answer
    assert "".join(d.reasoning for d in out) == reasoning
    assert split_answer("".join(pieces)) == (answer, reasoning)


def test_an_answer_holding_a_nul_or_a_lone_surrogate_is_made_storable(
    fine_api: Api, fake_llm: FakeLLM
) -> None:
    """What the model sends is not the client's fault: a NUL is dropped and a lone surrogate
    becomes U+FFFD, in the answer, its stream and the stored turn (it was a 400 and a 500)."""
    raw = "你好\x00世界\ud800!"
    clean = "你好世界\ufffd!"
    fake_llm.script({"chat": Reply(content=raw)})
    assert ask(fine_api, conversation="dirty")["response"] == clean
    assert history(fine_api, "dirty")[-1]["content"] == clean
    fake_llm.script({"chat": Reply(content=raw, chunks=["你好\x00", "世界\ud800", "!"])})
    events = stream(fine_api, {"query": QUERY, "conversation_id": "dirty-stream"})
    assert kinds(events)[-1] == "end"
    assert joined(events, "text") == clean
