"""/chat: answer the user's message with what is remembered about them, and remember the turn.

The message is searched like ``/search/memory``; the facts and preferences found, each with its
time, one a line and escaped (``prompts/recalled.py``), fill the ``<memories>`` block of the
system prompt (``prompts/chat.<zh|en>.md``, in the message's language), which says they are data
from past conversations and never instructions; it comes after the client's own
``system_prompt``. The conversation's most recent messages
(``chat.history_messages``) come next, then the message. The configured model answers, whole or
piece by piece; a ``<think>`` block at the start of its answer is reasoning, kept apart from the
answer like ``reasoning_content``. The model is always the configured one: a ``model_name`` names
a cloud model that means nothing here. With ``add_message_on_answer`` the message and the answer
are stored as a new turn of the conversation by the normal add path, so memories (and, with an
LLM, a fine-extraction job) follow as for any add.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.errors import LLMNotConfigured
from memos_server.filters import Filter
from memos_server.llm import LLM, Delta, Sampling
from memos_server.prompts import Language, load_prompt
from memos_server.prompts.recalled import recalled_text
from memos_server.services.ingest import AddMessages, IncomingMessage, MessageIntake
from memos_server.services.language import detect_language
from memos_server.services.limits import check_ids, check_metadata, check_query
from memos_server.services.search import Scored, SearchQuery, SearchService
from memos_server.services.tasks import Added
from memos_server.services.windows import SPOKEN_ROLES
from memos_server.settings import Settings
from memos_server.storage.repositories.messages import MessageRepository
from memos_server.storage.vocabulary import MemoryMode

NONE_RECALLED: dict[Language, str] = {"zh": "（无）", "en": "(none)"}
PREFERENCE_KINDS: dict[Language, dict[str, str]] = {
    "zh": {"explicit_preference": "显性", "implicit_preference": "隐性"},
    "en": {"explicit_preference": "explicit", "implicit_preference": "implicit"},
}


@dataclass(frozen=True)
class ChatQuery:
    user_id: str
    conversation_id: str
    query: str
    system_prompt: str | None = None
    memory_limit: int = 6
    include_preference: bool = True
    preference_limit: int = 6
    min_relativity: float | None = None
    where: Filter | None = None
    agent_id: str | None = None
    app_id: str | None = None
    tags: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    sampling: Sampling = field(default_factory=Sampling)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def render_facts(facts: Sequence[Scored], language: Language) -> str:
    """One line per fact, with when it happened (or was last recorded)."""
    if not facts:
        return NONE_RECALLED[language]
    lines = []
    for scored in facts:
        memory = scored.memory
        when = _when(memory.memory_time or memory.update_time)
        key = recalled_text(memory.memory_key)
        label = f"{key}: " if memory.mode == MemoryMode.FEEDBACK else ""
        lines.append(f"- ({when}) {label}{recalled_text(memory.memory_value)}")
    return "\n".join(lines)


def render_preferences(preferences: Sequence[Scored], language: Language) -> str:
    if not preferences:
        return NONE_RECALLED[language]
    kinds = PREFERENCE_KINDS[language]
    lines = []
    for scored in preferences:
        memory = scored.memory
        kind = kinds.get(memory.preference_type or "", kinds["explicit_preference"])
        value = recalled_text(memory.memory_value)
        lines.append(f"- ({_when(memory.update_time)}, {kind}) {value}")
    return "\n".join(lines)


class ChatService:
    """/chat's use of the service: the prompt with the user's memories, and the stored turn.
    Built once per process; the route asks the model and shapes the answer."""

    def __init__(
        self,
        *,
        settings: Settings,
        llm: LLM | None,
        search: SearchService,
        messages: MessageIntake,
    ) -> None:
        self.settings = settings
        self._llm = llm
        self.search = search
        self.messages = messages

    def model(self) -> LLM:
        """The configured model; chat needs one (503 otherwise)."""
        if self._llm is None:
            raise LLMNotConfigured()
        return self._llm

    async def prompt(
        self, session: AsyncSession, *, project_id: uuid.UUID, chat: ChatQuery, now: datetime
    ) -> list[dict[str, str]]:
        """The messages to send the model: system prompt with memories, recent turns, the
        query."""
        settings = self.settings
        check_ids(
            settings.limits,
            chat.user_id,
            chat.conversation_id,
            agent_id=chat.agent_id,
            app_id=chat.app_id,
        )
        check_metadata(settings.limits, chat.tags, chat.info)  # before the model, not at the store
        check_query(settings.limits, chat.query)
        found = await self.search.search(
            session,
            project_id=project_id,
            query=SearchQuery(
                user_id=chat.user_id,
                query=chat.query,
                memory_limit=chat.memory_limit,
                include_preference=chat.include_preference,
                preference_limit=chat.preference_limit,
                min_relativity=chat.min_relativity,
                agent_id=chat.agent_id,
                where=chat.where,
            ),
        )
        language = detect_language([chat.query])
        system = load_prompt("chat", language).render(
            current_time=now.astimezone(UTC).strftime("%Y-%m-%d %H:%M (%A) UTC"),
            facts=render_facts(found.facts, language),
            preferences=render_preferences(found.preferences, language),
        )
        if chat.system_prompt and chat.system_prompt.strip():
            system = f"{chat.system_prompt.strip()}\n\n{system}"
        history = []
        if settings.chat.history_messages:
            history = await MessageRepository(session).recent(
                project_id, chat.user_id, chat.conversation_id, settings.chat.history_messages
            )
        turns = [
            {"role": m.role, "content": m.content}
            for m in history
            if m.role in SPOKEN_ROLES and m.content.strip()
        ]
        return [
            {"role": "system", "content": system},
            *turns,
            {"role": "user", "content": chat.query},
        ]

    async def remember(
        self,
        session: AsyncSession,
        *,
        project_id: uuid.UUID,
        chat: ChatQuery,
        answer: str,
        asked_at: datetime,
        answered_at: datetime,
    ) -> Added:
        """Store the query and the answer as a new turn of the conversation (add/message's
        intake: fast memories, and in fine mode its job)."""
        turn = [IncomingMessage(role="user", text=chat.query, chat_time=asked_at)]
        if answer.strip():
            # An answer longer than a message may be is kept in part rather than refused after
            # the client has it.
            text = answer[: self.settings.limits.max_message_chars]
            turn.append(IncomingMessage(role="assistant", text=text, chat_time=answered_at))
        return await self.messages.add(
            session,
            project_id=project_id,
            request=AddMessages(
                user_id=chat.user_id,
                conversation_id=chat.conversation_id,
                messages=turn,
                agent_id=chat.agent_id,
                app_id=chat.app_id,
                tags=list(chat.tags),
                info=dict(chat.info),
            ),
        )


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
