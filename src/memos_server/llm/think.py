"""A reasoning model's answer split into its reasoning and the answer itself.

Endpoints with a reasoning parser return the reasoning apart (``reasoning_content``, read by the
provider into ``Completion.reasoning`` and ``Delta.reasoning``); reasoning models served without
one write it first, inside ``<think>...</think>``. ``split_answer`` and ``split_stream`` give both
kinds the same shape: the reasoning in ``reasoning``, the answer in ``text``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from memos_server.llm.base import Delta


class ThinkSplitter:
    """Splits a model's answer, as it arrives, into reasoning and answer text.

    Reasoning models served without a reasoning parser write their reasoning first, inside
    ``<think>...</think>``; only a block at the very start counts, so an answer that merely
    mentions the tag is left alone. Tags may arrive split across pieces.
    """

    OPEN = "<think>"
    CLOSE = "</think>"

    def __init__(self) -> None:
        self._state = "start"  # start | thinking | answering
        self._pending = ""
        self._strip = False  # drop the blank lines between the block and the answer

    def feed(self, text: str) -> list[Delta]:
        self._pending += text
        out: list[Delta] = []
        if self._state == "start":
            head = self._pending.lstrip()
            if head.startswith(self.OPEN):
                self._state = "thinking"
                self._pending = head.removeprefix(self.OPEN)
            elif self.OPEN.startswith(head):
                return out  # maybe the start of the tag: wait for more
            else:
                self._state = "answering"
        if self._state == "thinking":
            at = self._pending.find(self.CLOSE)
            if at < 0:
                keep = _partial_suffix(self._pending, self.CLOSE)
                out += self._emit(self._pending[: len(self._pending) - keep], reasoning=True)
                self._pending = self._pending[len(self._pending) - keep :]
                return out
            out += self._emit(self._pending[:at], reasoning=True)
            self._pending = self._pending[at + len(self.CLOSE) :]
            self._state, self._strip = "answering", True
        out += self._emit(self._pending, reasoning=False)
        self._pending = ""
        return out

    def flush(self) -> list[Delta]:
        """What is still held back once the answer is complete."""
        rest, self._pending = self._pending, ""
        return self._emit(rest, reasoning=self._state == "thinking")

    def _emit(self, text: str, *, reasoning: bool) -> list[Delta]:
        if not reasoning and self._strip:
            text = text.lstrip()
            self._strip = not text
        if not text:
            return []
        return [Delta(reasoning=text) if reasoning else Delta(text=text)]


def _partial_suffix(text: str, tag: str) -> int:
    """How many characters at the end of ``text`` could be the start of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


def split_answer(text: str, reasoning: str = "") -> tuple[str, str]:
    """A whole answer as (answer, reasoning)."""
    splitter = ThinkSplitter()
    pieces = splitter.feed(text) + splitter.flush()
    answer = "".join(p.text for p in pieces)
    thought = "".join(p.reasoning for p in pieces)
    return answer, reasoning or thought


async def split_stream(deltas: AsyncIterator[Delta]) -> AsyncGenerator[Delta, None]:
    """The model's pieces with any leading ``<think>`` block turned into reasoning."""
    splitter = ThinkSplitter()
    async for delta in deltas:
        if delta.reasoning:
            yield Delta(reasoning=delta.reasoning)
        for piece in splitter.feed(delta.text):
            yield piece
    for piece in splitter.flush():
        yield piece
