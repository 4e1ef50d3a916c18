"""instruction and full_instruction: search results as prompt text, in the query's language."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from memos_server.embedding.base import estimate_tokens
from memos_server.prompts.recalled import recalled_text
from memos_server.services.search.engine import Scored, SearchResult
from memos_server.services.search.instructions import full_instruction, instruction
from tests.support.api import Api
from tests.support.conversations import SEED_FAMILY_TRIP
from tests.support.memories import recalled_memory, store_preference
from tests.support.service import ServiceThread

DATE = re.compile(r"\[\d{4}-\d{2}-\d{2}\]")


def test_search_answers_both_prompts_when_asked(
    api: Api, service: ServiceThread, pg_url: str, api_key: str
) -> None:
    api.ok(
        "/add/message",
        {"user_id": "u1", "conversation_id": "0610", "messages": SEED_FAMILY_TRIP},
    )
    store_preference(service, pg_url, api_key, "u1", "用户出行偏好住七天酒店。")
    store_preference(
        service,
        pg_url,
        api_key,
        "u1",
        "用户可能更看重性价比。",
        preference_type="implicit_preference",
        reasoning="用户选择了经济型酒店。",
    )
    query = "我国庆想出去玩，帮我推荐个城市和酒店"
    plain = api.ok("/search/memory", {"user_id": "u1", "query": query})
    assert plain["instruction"] is None
    assert plain["full_instruction"] is None

    data = api.ok(
        "/search/memory",
        {
            "user_id": "u1",
            "query": query,
            "return_instruction": True,
            "return_full_instruction": True,
        },
    )
    section = data["instruction"]
    assert section.startswith("# 用户记忆")
    assert section.rstrip().endswith(query)
    # A fast-mode memory is a window of turns; in the prompt it is one line (the turns joined
    # by spaces) inside the <memories> block, and search returns it as stored.
    window = data["memory_detail_list"][0]["memory_value"]
    assert "\n" in window
    assert f"] {recalled_text(window)}\n" in section
    assert section.index("\n<memories>\n") < section.index(recalled_text(window))
    assert "- [显性, " in section
    assert "用户出行偏好住七天酒店。" in section
    assert "推断依据：用户选择了经济型酒店。" in section

    prompt = data["full_instruction"]
    assert prompt.startswith("你是一位拥有长期记忆的个人助理。")
    assert "显性偏好是用户明确说过的，必须遵守" in prompt
    assert DATE.search(prompt), "each memory shows its date"
    assert prompt.rstrip().endswith(f"用户的问题：{query}")

    english = api.ok(
        "/search/memory",
        {"user_id": "u1", "query": "Which hotel should I book?", "return_full_instruction": True},
    )
    assert english["full_instruction"].startswith("You are a personal assistant")
    assert "Answer in English" in english["full_instruction"]


def test_an_empty_memory_still_gives_a_usable_prompt(api: Api) -> None:
    data = api.ok(
        "/search/memory",
        {"user_id": "nobody", "query": "What do I like?", "return_instruction": True},
    )
    assert "## Facts\n(none)" in data["instruction"]
    assert "## Preferences\n(none)" in data["instruction"]


def fact(text: str, relativity: float) -> Scored:
    memory = recalled_memory(text, create_time=datetime(2026, 5, 1, tzinfo=UTC))
    return Scored(memory, relativity)


def test_the_least_relevant_memories_are_left_out_to_fit_the_budget() -> None:
    facts = [fact(f"Fact number {i}: " + "detail " * 30, 1.0 - i / 100) for i in range(25)]
    result = SearchResult(facts=facts, preferences=[])
    now = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    prompt = full_instruction("What next?", result, "en", 600, now)
    assert estimate_tokens(prompt) <= 600
    kept = [i for i in range(25) if f"Fact number {i}:" in prompt]
    assert kept
    assert kept == list(range(len(kept)))
    assert len(kept) < 25
    assert "It is now 2026-11-21 09:30 UTC." in prompt
    assert "[2026-05-01] Fact number 0" in prompt
    roomy = instruction("What next?", result, "en", 100_000)
    assert all(f"Fact number {i}:" in roomy for i in range(25))
