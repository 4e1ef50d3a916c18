"""Fast mode: cut a conversation into windows of raw turns, each one a memory.

A window holds consecutive user/assistant turns verbatim, with their speakers (the role, or in a
group chat the speaker's name), up to a number of
turns and a token budget that fits the embedding model. A turn longer than the budget is split at
sentence ends (or, failing those, inside a sentence) into parts that each become a memory of their
own, so nothing is cut off unseen by the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from memos_server.text.writing_systems import WIDE_CHAR

# Roles whose words are worth remembering; system prompts and tool output are not about the user.
SPOKEN_ROLES = ("user", "assistant")

_SENTENCE_END = re.compile(r"(?<=[。！？!?；;…\n])|(?<=[.])\s+")
_TRAILING_PUNCT = " \t\n,.;:!?，。；：！？、…~-—\"'“”‘’()（）"

_CLAUSE_END = re.compile(r"[，,、；;：:]")
KEY_CJK_CHARS = 16
MIN_CJK_CLAUSE = 4
KEY_WORDS = 8
# A first guess at how many characters hold ``budget`` tokens: more than most text needs (CJK is
# one character per token, English about four), so a fragment is usually found in one count.
CHARS_PER_TOKEN = 4


def speaker_of(role_name: str | None, role_id: str | None) -> str | None:
    """How a group chat's text names who sent a message: their name, else their id."""
    return role_name or role_id


@dataclass(frozen=True)
class Turn:
    index: int  # position of the message in the add request
    role: str
    text: str
    chat_time: datetime | None = None
    # Group chat: the speaker's name (or id), shown instead of the role.
    speaker: str | None = None

    @property
    def label(self) -> str:
        """Who the window's line says spoke: the speaker's name, else the role."""
        return self.speaker or self.role


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
    if WIDE_CHAR.search(first):
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
    skip: int = 0,
) -> list[Window]:
    """Consecutive spoken turns cut into windows; the first ``skip`` spoken turns are left out
    (a second tiling started there has its window boundaries inside the first one's windows)."""
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
        if skip > 0:
            skip -= 1
            continue
        line = f"{turn.label}: {turn.text.strip()}"
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
    prefix = f"{turn.label}: "
    budget = max(1, max_tokens - count_tokens(prefix))
    pieces: list[str] = []
    current, current_tokens = "", 0
    # Each fragment is counted once and pieces are summed, so the work grows with the text, not
    # with its square (a 32,000-character message took seconds when every step recounted it).
    for sentence in _sentences(turn.text.strip()):
        for fragment, tokens in _fit(sentence, budget, count_tokens):
            if current and current_tokens + tokens > budget:
                pieces.append(current)
                current, current_tokens = "", 0
            current += fragment
            current_tokens += tokens
    if current.strip():
        pieces.append(current)
    # Pieces join at sentence ends, where tokenizers count a whole as the sum of its parts; a
    # piece counted over after all (a tokenizer merging across a seam) is cut again, not truncated.
    fitted: list[tuple[str, int]] = []
    for piece in filter(None, (p.strip() for p in pieces)):
        tokens = count_tokens(prefix + piece)
        if tokens <= max_tokens:
            fitted.append((piece, tokens))
            continue
        for part in filter(None, (part.strip() for part, _ in _fit(piece, budget, count_tokens))):
            fitted.append((part, count_tokens(prefix + part)))
    return [
        Window(turns=[turn], lines=[prefix + piece], tokens=tokens, part=(i, len(fitted)))
        for i, (piece, tokens) in enumerate(fitted, start=1)
    ]


def sentences(text: str) -> list[str]:
    """The text cut after each sentence end (。！？!?；; … a line break, or a full stop and a
    space); the pieces joined give back the text."""
    return _sentences(text)


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


def _fit(sentence: str, budget: int, count_tokens: Callable[[str], int]) -> list[tuple[str, int]]:
    """The sentence as fragments of at most ``budget`` tokens each, with their counts.

    Only ever counts a stretch about as long as what fits (doubled until it no longer fits), never
    the whole rest of a long sentence, so cutting a text into n fragments costs O(text), not
    O(n × text).
    """
    fragments: list[tuple[str, int]] = []
    start, span = 0, max(1, budget * CHARS_PER_TOKEN)
    while start < len(sentence):
        probe = sentence[start : start + span]
        tokens = count_tokens(probe)
        while tokens <= budget and start + len(probe) < len(sentence):
            span *= 2
            probe = sentence[start : start + span]
            tokens = count_tokens(probe)
        if tokens <= budget:
            fragments.append((probe, tokens))
            break
        # Shrink a cut point until it fits; characters per token is close to constant, so this
        # converges in a few steps.
        cut = max(1, len(probe) * budget // tokens)
        while (tokens := count_tokens(probe[:cut])) > budget and cut > 1:
            cut = max(1, cut * 9 // 10)
        space = probe.rfind(" ", cut // 2, cut)
        if space > 0:
            cut = space + 1
            tokens = count_tokens(probe[:cut])
        fragments.append((probe[:cut], tokens))
        start += cut
        # The next stretch to look at: about what this fragment held, and then some.
        span = max(1, cut * 2)
    return fragments
