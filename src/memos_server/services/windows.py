"""Fast mode: cut a conversation into windows of raw turns, each one a memory.

A window holds consecutive user/assistant turns verbatim, with their speakers, up to a number of
turns and a token budget that fits the embedding model. A turn longer than the budget is split at
sentence ends (or, failing those, inside a sentence) into parts that each become a memory of their
own, so nothing is cut off unseen by the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

# Roles whose words are worth remembering; system prompts and tool output are not about the user.
SPOKEN_ROLES = ("user", "assistant")

_SENTENCE_END = re.compile(r"(?<=[。！？!?；;…\n])|(?<=[.])\s+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_TRAILING_PUNCT = " \t\n,.;:!?，。；：！？、…~-—\"'“”‘’()（）"

_CLAUSE_END = re.compile(r"[，,、；;：:]")
KEY_CJK_CHARS = 16
MIN_CJK_CLAUSE = 4
KEY_WORDS = 8


@dataclass(frozen=True)
class Turn:
    index: int  # position of the message in the add request
    role: str
    text: str
    chat_time: datetime | None = None


@dataclass
class Window:
    turns: list[Turn] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    tokens: int = 0
    part: tuple[int, int] | None = None  # (i, n) when the window is part i of n of one turn

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def message_indexes(self) -> list[int]:
        return sorted({turn.index for turn in self.turns})

    @property
    def memory_type(self) -> str:
        only_user = all(turn.role == "user" for turn in self.turns)
        return "UserMemory" if only_user else "LongTermMemory"

    @property
    def time(self) -> datetime | None:
        return next((turn.chat_time for turn in self.turns if turn.chat_time), None)

    @property
    def key(self) -> str:
        first = next((t for t in self.turns if t.role == "user"), self.turns[0])
        title = short_title(self.lines[self.turns.index(first)].split(": ", 1)[-1])
        if self.part is not None:
            title = f"{title} ({self.part[0]}/{self.part[1]})"
        return title


def short_title(text: str) -> str:
    """The first sentence, cut to a few words (or characters, for CJK text)."""
    text = " ".join(text.split())
    first = next((s for s in _SENTENCE_END.split(text) if s.strip(_TRAILING_PUNCT)), text)
    first = first.strip(_TRAILING_PUNCT)
    if _CJK.search(first):
        # A Chinese title reads best as one clause: the first long enough to say something.
        clauses = [c for c in _CLAUSE_END.split(first) if len(c.strip()) >= MIN_CJK_CLAUSE]
        title = (clauses[0].strip() if clauses else first)[:KEY_CJK_CHARS]
    else:
        title = " ".join(first.split(" ")[:KEY_WORDS])
    return title.strip(_TRAILING_PUNCT) or text[:KEY_CJK_CHARS] or "(empty)"


def build_windows(
    turns: Sequence[Turn],
    *,
    max_turns: int,
    max_tokens: int,
    count_tokens: Callable[[str], int],
) -> list[Window]:
    windows: list[Window] = []
    current = Window()

    def flush() -> None:
        nonlocal current
        if current.turns:
            windows.append(current)
        current = Window()

    for turn in turns:
        if turn.role not in SPOKEN_ROLES or not turn.text.strip():
            continue
        line = f"{turn.role}: {turn.text.strip()}"
        tokens = count_tokens(line)
        if tokens > max_tokens:
            flush()
            windows.extend(_split_turn(turn, max_tokens, count_tokens))
            continue
        if len(current.turns) >= max_turns or current.tokens + tokens > max_tokens:
            flush()
        current.turns.append(turn)
        current.lines.append(line)
        current.tokens += tokens
    flush()
    return windows


def _split_turn(turn: Turn, max_tokens: int, count_tokens: Callable[[str], int]) -> list[Window]:
    prefix = f"{turn.role}: "
    budget = max(1, max_tokens - count_tokens(prefix))
    pieces: list[str] = []
    current = ""
    for sentence in _sentences(turn.text.strip()):
        for fragment in _fit(sentence, budget, count_tokens):
            candidate = current + fragment
            if current and count_tokens(candidate) > budget:
                pieces.append(current)
                current = fragment
            else:
                current = candidate
    if current.strip():
        pieces.append(current)
    pieces = [piece.strip() for piece in pieces if piece.strip()]
    return [
        Window(
            turns=[turn],
            lines=[prefix + piece],
            tokens=count_tokens(prefix + piece),
            part=(i, len(pieces)),
        )
        for i, piece in enumerate(pieces, start=1)
    ]


def _sentences(text: str) -> list[str]:
    # Keep the separators attached so that joining the pieces gives back the text.
    out: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if end > start:
            out.append(text[start:end])
            start = end
    if start < len(text):
        out.append(text[start:])
    return out


def _fit(sentence: str, budget: int, count_tokens: Callable[[str], int]) -> list[str]:
    """Split one sentence that is over the budget into fragments that are not."""
    fragments: list[str] = []
    rest = sentence
    while rest and count_tokens(rest) > budget:
        # Shrink a cut point until it fits; characters per token is close to constant, so this
        # converges in a few steps.
        cut = max(1, len(rest) * budget // max(count_tokens(rest), 1))
        while cut > 1 and count_tokens(rest[:cut]) > budget:
            cut = max(1, cut * 9 // 10)
        space = rest.rfind(" ", cut // 2, cut)
        if space > 0:
            cut = space + 1
        fragments.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        fragments.append(rest)
    return fragments
