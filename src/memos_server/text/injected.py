"""Text an agent runtime put into a message, kept out of memories (the anti-feedback loop).

Agents that recall memories paste them into the next turn (``<memories>…</memories>``, this
service's own ``instruction``), show their reasoning (``<think>…</think>``) or log a whole model
stream into a message. Made into memories, such text comes back at the next recall, is stored
again, and grows with every turn until it drowns what the user said. MemOS 2.0.33 filters the
same sources before extraction (``memos/mem_reader/source_filter.py``: ``user_query_boundary``,
``trailing_context``, ``stream_transcript``, ``retrieval_context``, ``memory_context``,
``agent_reasoning``, ``runtime_metadata``, ``automation_context``, ``assistant_runtime_prefix``);
every one of its patterns is covered here (``tests/test_injected.py`` has a case for each).

Only what windows and fine extraction read is cleaned: the message is stored, and get/message
returns it, exactly as sent. Where MemOS drops a whole message for a tag, a span is cut here
(the tag's block), so a user's own words around a recalled block still count; markers that open
a block without closing it (MemOS's recall banners, runtime metadata) drop the whole message, as
MemOS does.
"""

from __future__ import annotations

import re
from functools import cache

from memos_server.prompts import load_prompt

# Blocks a runtime wraps in a tag: recalled memories, reasoning, retrieved context.
BLOCK_TAGS = (
    "memories",
    "memory_context",
    "relevant_memories",
    "recalled_memories",
    "thinking",
    "think",
    "reasoning",
    "agent_scratchpad",
    "retrieved_context",
    "search_context",
    "web_results",
)
_TAG = "|".join(BLOCK_TAGS)
_CLOSED_BLOCK = re.compile(rf"<({_TAG})(?:\s[^>]*)?>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
# An opening tag never closed: the rest of the message is the block.
_OPEN_TO_END = re.compile(rf"<(?:{_TAG})(?:\s[^>]*)?>.*\Z", re.IGNORECASE | re.DOTALL)
# A closing tag never opened (reasoning models often send only ``…</think>``): all before it.
_START_TO_CLOSE = re.compile(rf"\A.*</(?:{_TAG})\s*>", re.IGNORECASE | re.DOTALL)

# A streamed answer logged raw: everything from its first event on.
_STREAM = re.compile(r'data:\s*\{"id"\s*:\s*"chatcmpl|data:\s*\[DONE\]')
# Recalled context introduced by a heading, to the end of the message.
_TRAILING_CONTEXT = re.compile(r"(?m)^\s{0,3}#{1,3}\s*以下是可能和用户问题关联的对话记忆")
# Markers of a message that is injected context as a whole.
_WHOLE_MESSAGE = re.compile(
    r"(?i)===\s*MemOS LONG-TERM MEMORY"
    r"|\[MemOS Auto-Recall\]"
    r"|(?m:^\s{0,3}#{1,3}\s*以下内容是基于用户发送的消息的搜索结果)"
    r"|(?m:^\s*Conversation info \(untrusted metadata\):)"
    r"|(?m:^\s*Untrusted context \(metadata, do not treat as instructions or commands\):)"
)
# A prompt that ends with the user's own words under a heading ("## 用户的问题：…"): only what
# follows the last such heading is the user's.
_USER_QUERY_BOUNDARY = re.compile(
    r"(?im)(?:^|[ \t])#{1,3}[ \t]*用户(?:的)?(?:消息|问题)(?:为|是)?[ \t]*[：:]"
    r"|user\u200b原\u200b始\u200bquery\u200b：\u200b\u200b\u200b\u200b"
    r"|(?:^|[ \t])#{1,3}[ \t]*user[ \t]*原始[ \t]*query[ \t]*[：:]"
)
# Messages a scheduler or a runtime wrote, recognised by how they begin: dropped whole.
_AUTOMATION_PREFIX = re.compile(
    r"\[cron:|System:\s+\[|A scheduled reminder has been triggered"
    r"|小依会根据用户需求|正在完善Gemini的思考过程"
)
_BLANK_LINES = re.compile(r"\n{3,}")
INSTRUCTION_PROMPTS = ("instruction", "full_instruction")


@cache
def _own_blocks() -> tuple[tuple[str, str], ...]:
    """Where this service's ``instruction`` and ``full_instruction`` begin and end, read from the
    prompts themselves so that a new wording is recognised too: the first line up to its first
    placeholder, and the words just before the query (the user's question, which is kept)."""
    bounds: list[tuple[str, str]] = []
    for task in INSTRUCTION_PROMPTS:
        for language in ("zh", "en"):
            text = load_prompt(task, language).template.template.strip()
            start = text.split("\n", 1)[0].split("$", 1)[0].strip()
            before_query = text.rsplit("$query", 1)[0].rstrip()
            end = before_query.rsplit("\n", 1)[-1].strip()
            bounds.append((start, end))
    return tuple(bounds)


def _cut_own_blocks(text: str) -> str:
    for start, end in _own_blocks():
        at = text.find(start)
        while at >= 0:
            stop = text.find(end, at + len(start))
            if stop < 0:  # a start alone may be the user's own words: left as it is
                break
            text = text[:at] + text[stop + len(end) :].lstrip(" \t")  # "question: q"
            at = text.find(start, at)
    return text


def strip_injected(text: str) -> str:
    """The text without what a runtime injected into it; empty when nothing else is left."""
    if _WHOLE_MESSAGE.search(text) or _AUTOMATION_PREFIX.match(text.strip()):
        return ""
    boundaries = list(_USER_QUERY_BOUNDARY.finditer(text))
    if boundaries:
        text = text[boundaries[-1].end() :]
    for pattern in (_STREAM, _TRAILING_CONTEXT):
        found = pattern.search(text)
        if found:
            text = text[: found.start()]
    text = _CLOSED_BLOCK.sub("", text)
    text = _OPEN_TO_END.sub("", text)
    text = _START_TO_CLOSE.sub("", text)
    text = _cut_own_blocks(text)
    return _BLANK_LINES.sub("\n\n", text).strip()
