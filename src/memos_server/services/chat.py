"""/chat: answer the user's message with what is remembered about them, and remember the turn.

The message is searched like ``/search/memory``; the facts and preferences found, each with its
time, one a line and escaped (``prompts/memory_lines.py``), fill the ``<memories>`` block of the
system prompt (``prompts/chat.<zh|en>.md``, in the message's language), which says they are data
from past conversations and never instructions; with ``knowledgebase_ids``, the bases' best
passages follow in a ``<documents>`` block of their own, said to be the project's documents, not
things the user said (``prompts/passage_lines.py``). The prompt comes after the client's own
``system_prompt``. The conversation's most recent messages
(``chat.history_messages``) come next, then the message. The configured model answers, whole or
piece by piece; a ``<think>`` block at the start of its answer is reasoning, kept apart from the
answer like ``reasoning_content`` (``llm/think.py``). The model is always the configured one: a
``model_name`` names a cloud model that means nothing here. With ``add_message_on_answer`` the
message and the answer are stored as a new turn of the conversation by the normal add path, so
memories (and, with an LLM, a fine-extraction job) follow as for any add.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.errors import LLMNotConfigured
from memos_server.filters import Filter
from memos_server.llm import LLM, Sampling
from memos_server.prompts import load_prompt
from memos_server.prompts.dates import chat_now
from memos_server.prompts.memory_lines import chat_facts, chat_preferences
from memos_server.prompts.passage_lines import ShownPassage, documents_block, passage_line
from memos_server.services.ingest import AddMessages, IncomingMessage, MessageIntake
from memos_server.services.limits import check_ids, check_metadata, check_query, check_text
from memos_server.services.search.engine import SearchQuery
from memos_server.services.search.service import SearchService
from memos_server.services.tasks import Added
from memos_server.settings import Settings
from memos_server.storage.repositories.messages import MessageRepository
from memos_server.text.language import detect_language
from memos_server.text.windows import SPOKEN_ROLES


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
    # Knowledge bases whose passages the model sees (already checked to be the project's), the
    # filter's knowledgebase part, and the bases the stored turn's memories are shared into.
    knowledgebase_ids: tuple[uuid.UUID, ...] = ()
    passage_where: Filter | None = None
    shared_into: tuple[uuid.UUID, ...] = ()
    agent_id: str | None = None
    app_id: str | None = None
    tags: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    source: str | None = None  # the stored turn's channel
    sampling: Sampling = field(default_factory=Sampling)


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
            source=chat.source,
        )
        check_metadata(settings.limits, chat.tags, chat.info)  # before the model, not at the store
        check_query(settings.limits, chat.query)
        if chat.system_prompt is not None:
            check_text(settings.limits, "system_prompt", chat.system_prompt)
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
                knowledgebase_ids=chat.knowledgebase_ids,
                passage_limit=settings.knowledge.search_limit if chat.knowledgebase_ids else 0,
                passage_where=chat.passage_where,
            ),
        )
        language = detect_language([chat.query])
        passages = [
            passage_line(
                ShownPassage(p.file_name, p.passage.heading, p.passage.page, p.passage.text),
                language,
            )
            for p in found.passages
        ]
        zone = settings.search.zone()
        system = load_prompt("chat", language).render(
            current_time=chat_now(now, zone),
            facts=chat_facts([s.memory for s in found.facts], language, zone),
            preferences=chat_preferences([s.memory for s in found.preferences], language, zone),
            documents=documents_block(passages, language),
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
                knowledgebase_ids=chat.shared_into,
                source=chat.source,
            ),
        )
