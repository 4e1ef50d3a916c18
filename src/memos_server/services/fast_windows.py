"""The windows fast mode makes of a conversation: what an add stores without an LLM, and what
``extract/memory`` answers without one.

Turns of one or a few exchanges (``fast.window_turns``; ``fast.window_turns_zh`` for a
conversation mostly in Chinese), cut by ``text/windows``. Outside Chinese a second tiling starts
half a window later (``fast.window_overlap``), so the turns on either side of a boundary also stand
together in one memory (docs/search.md, "Overlapping windows").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from memos_server.embedding import Embedder
from memos_server.settings import Settings
from memos_server.text.injected import strip_injected
from memos_server.text.language import detect_language
from memos_server.text.windows import Turn, Window, build_windows


def fast_windows(
    settings: Settings,
    embedder: Embedder,
    messages: Sequence[tuple[str, str, datetime | None]],
    speakers: Sequence[str | None] = (),
) -> list[Window]:
    """The windows fast mode makes of messages (role, text, time), each line naming its speaker
    when ``speakers`` gives one (a group chat): what an add stores without an LLM. Text a
    runtime injected (recalled memories, reasoning) is left out first. CPU work: call it off the
    event loop."""
    named = list(speakers) or [None] * len(messages)
    turns = [
        Turn(i, role, strip_injected(text), chat_time, speaker)
        for i, ((role, text, chat_time), speaker) in enumerate(zip(messages, named, strict=True))
    ]
    chinese = detect_language(t.text for t in turns) == "zh"
    max_turns = settings.fast.window_turns_zh if chinese else settings.fast.window_turns
    max_tokens = min(settings.fast.window_tokens, embedder.max_tokens)
    windows = build_windows(
        turns, max_turns=max_turns, max_tokens=max_tokens, count_tokens=embedder.count_tokens
    )
    if chinese or not settings.fast.window_overlap or max_turns < 2:
        return windows
    # A second tiling started half a window later: the turns on either side of every boundary of
    # the first also stand together in one memory. A window whose turns all stand in one window of
    # the first tiling (a session's last turns, a long turn's parts) adds nothing and is left out.
    first = [set(w.message_indexes) for w in windows]
    for window in build_windows(
        turns,
        max_turns=max_turns,
        max_tokens=max_tokens,
        count_tokens=embedder.count_tokens,
        skip=max_turns // 2,
    ):
        if not any(set(window.message_indexes) <= held for held in first):
            windows.append(window)
    return windows
