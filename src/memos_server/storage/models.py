"""ORM models. The schema itself is made only by the Alembic migrations in ``migrations/``.

Every scope a query can filter on (project, user, conversation, agent, app) is a real column with a
b-tree index; free metadata (``info``) is JSONB and only filtered on by explicit ``info`` keys.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from memos_server.storage.types import ClientTime, StoredVector
from memos_server.storage.vocabulary import JobStatus, MemoryStatus


class Base(DeclarativeBase):
    pass


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text, unique=True)
    # The last message number (``Message.seq``) handed out in the project.
    message_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # Days a memory made by an add lives here (0: forever; NULL: the service's default TTL).
    ttl_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _now()


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text, default="")
    # The first characters of the key, shown in listings so a person can tell keys apart.
    prefix: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = _now()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Message(Base):
    __tablename__ = "messages"

    # The row's key inside the service (memory sources and history rows name messages by it).
    # Global, so never shown: it would tell a project how many messages all others store.
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # The message's number in its project (1, 2, ... in the order stored): its ``message_id``.
    seq: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[str] = mapped_column(Text)
    conversation_id: Mapped[str] = mapped_column(Text)
    agent_id: Mapped[str | None] = mapped_column(Text)
    app_id: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    role: Mapped[str] = mapped_column(Text)
    # Group chat: the speaker's id (one of the add's user_ids, or its agent) and name.
    role_id: Mapped[str | None] = mapped_column(Text)
    role_name: Mapped[str | None] = mapped_column(Text)
    # Plain text of the message (text parts joined); what memories and search read.
    content: Mapped[str] = mapped_column(Text)
    # The message's content as sent when it was a list of parts (text, image_url, file).
    content_parts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    tool_call_id: Mapped[str | None] = mapped_column(Text)
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    chat_time: Mapped[datetime | None] = mapped_column(ClientTime)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    info: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # The channel the client says the message came from (add/message's ``source``).
    source: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class Memory(Base):
    # Stored with ``toast_tuple_target = 8160`` (migration 0023): a row, vector and text, stays
    # whole in the heap unless it cannot fit a page, so search reads no TOAST for it.
    __tablename__ = "memories"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(Text)
    conversation_id: Mapped[str | None] = mapped_column(Text)
    agent_id: Mapped[str | None] = mapped_column(Text)
    app_id: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    # kind, mode and status hold the words of ``MemoryKind``, ``MemoryMode`` and ``MemoryStatus``
    # (plain text in the database; read back as ``str``, which the members compare equal to).
    kind: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(Text)
    memory_key: Mapped[str] = mapped_column(Text)
    memory_value: Mapped[str] = mapped_column(Text)
    memory_type: Mapped[str] = mapped_column(Text)
    preference_type: Mapped[str | None] = mapped_column(Text)
    reasoning: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    memory_time: Mapped[datetime | None] = mapped_column(ClientTime)
    confidence: Mapped[float] = mapped_column(Float, default=1.0)
    status: Mapped[str] = mapped_column(Text, default=MemoryStatus.ACTIVATED)
    embedding: Mapped[list[float]] = mapped_column(StoredVector())
    # The next model's vector while ``memos-server reindex`` runs (NULL otherwise); only the
    # reindex reads or writes it (``repositories/reindex.py``).
    embedding_next: Mapped[list[float] | None] = mapped_column(StoredVector(), deferred=True)
    source_message_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list)
    # A feedback memory: the memories it was given against, which search shows it above.
    corrects: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID), default=list)
    # The knowledge bases the memory was shared into (``allow_knowledgebase_ids``): a search
    # naming one of them finds it whoever asks.
    knowledgebase_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID), default=list, server_default=text("'{}'::uuid[]")
    )
    info: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # What the kind holds beyond key and value (an event's times, places and people; a tool
    # trajectory's calls; a skill's name): ``{}`` for facts and preferences.
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    prompt_version: Mapped[str | None] = mapped_column(Text)
    # Tokens of key and value for the full-text channel (``tsv`` is generated from it).
    search_text: Mapped[str] = mapped_column(Text, default="")
    tsv: Mapped[Any] = mapped_column(
        TSVECTOR, Computed("to_tsvector('simple', search_text)", persisted=True), deferred=True
    )
    create_time: Mapped[datetime] = _now()
    update_time: Mapped[datetime] = _now()
    # When it stops being returned (and the sweep purges it); NULL: never (docs/retention.md).
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MemoryHistory(Base):
    __tablename__ = "memory_history"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # No foreign key: the history of a deleted memory outlives it.
    memory_id: Mapped[uuid.UUID] = mapped_column(UUID)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(Text)  # a ``HistoryEvent``
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    source_message_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list)
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    created_at: Mapped[datetime] = _now()


class Feedback(Base):
    """What a user said to correct their memories (add/feedback), kept as sent."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(Text)
    conversation_id: Mapped[str | None] = mapped_column(Text)
    agent_id: Mapped[str | None] = mapped_column(Text)
    app_id: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    content: Mapped[str] = mapped_column(Text)
    feedback_time: Mapped[datetime | None] = mapped_column(ClientTime)
    created_at: Mapped[datetime] = _now()


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)  # a ``TaskKind`` (services/tasks.py)
    user_id: Mapped[str] = mapped_column(Text)
    conversation_id: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)  # a ``TaskStatus``
    error: Mapped[str | None] = mapped_column(Text)
    # What the task cost in LLM calls, as the endpoint reported it.
    llm_calls: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    # The client's Idempotency-Key, and a digest of what was added (retries without a key).
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[str | None] = mapped_column(Text)
    # add/message's and add/feedback's ``allow_knowledgebase_ids``: the fine job's memories go
    # into these bases too.
    knowledgebase_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID), default=list, server_default=text("'{}'::uuid[]")
    )
    # The expiry the add resolved for its memories: its fine job gives it to what it makes.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # add/message's ``allow_memory_view``, for its fine job (None: the defaults).
    memory_views: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class Job(Base):
    """Work to do after an add (fine extraction) or a feedback (applying it), claimed by workers
    with SKIP LOCKED."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)  # a ``JobKind``
    status: Mapped[str] = mapped_column(Text, default=JobStatus.QUEUED)  # a ``JobStatus``
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_after: Mapped[datetime] = _now()
    locked_by: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class Deletion(Base):
    """A delete/user or delete/message, or a retention sweep's purge of one user's expired
    memories, recorded without content (see migrations 0010 and 0013)."""

    __tablename__ = "deletions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text)  # user | conversation | expiry
    # A keyed digest of the user id (and conversation id), never the ids themselves.
    subject: Mapped[str] = mapped_column(Text)
    counts: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = _now()


class KnowledgeBase(Base):
    """A project's collection of documents (create/knowledgebase); searched beside memories."""

    __tablename__ = "knowledge_bases"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class KnowledgeFile(Base):
    """A document uploaded to a knowledge base; ``status`` holds a ``FileStatus`` word."""

    __tablename__ = "knowledge_files"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    knowledgebase_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("knowledge_bases.id", ondelete="CASCADE")
    )
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(Text)  # a ``DocumentType``: txt, md, html, pdf, docx
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    passages: Mapped[int] = mapped_column(Integer, default=0)
    # Upload order (one upload's files share ``created_at``): what listings sort by.
    seq: Mapped[int] = mapped_column(BigInteger, Identity())
    # The document as uploaded, until its job has read it (then NULL: the passages are what
    # search reads, and a failed document is not kept either).
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    # A document named by URL: what its job fetches (``content`` is NULL until then).
    source_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class KnowledgePassage(Base):
    """A piece of a document, embedded and tokenised like a memory, found by search/memory."""

    __tablename__ = "knowledge_passages"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # The base as well as the file: search narrows by base without a join.
    knowledgebase_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("knowledge_bases.id", ondelete="CASCADE")
    )
    file_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("knowledge_files.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # 0, 1, ... in the document's order
    page: Mapped[int | None] = mapped_column(Integer)  # a PDF's page it starts on (1, 2, ...)
    heading: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[list[float]] = mapped_column(StoredVector())
    # The next model's vector while a reindex runs (migration 0017).
    embedding_next: Mapped[list[float] | None] = mapped_column(StoredVector(), deferred=True)
    search_text: Mapped[str] = mapped_column(Text, default="")
    tsv: Mapped[Any] = mapped_column(
        TSVECTOR, Computed("to_tsvector('simple', search_text)", persisted=True), deferred=True
    )
    created_at: Mapped[datetime] = _now()


class ServiceMeta(Base):
    """Facts about the database itself, such as the embedding model its vectors came from."""

    __tablename__ = "service_meta"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ImportSource(Base):
    """Where an imported project's messages were numbered in this project (migration 0013)."""

    __tablename__ = "import_sources"

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(Text, primary_key=True)  # the exported project's id
    # A message numbered n in the export is number ``message_base + n`` here.
    message_base: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = _now()


class ProfileTemplate(Base):
    """A project's profile template (add/profile_template): the fields its profiles hold, as a
    list of ``{path, value, algorithm_updatable}`` in the client's order (migration 0018)."""

    __tablename__ = "profile_templates"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class Profile(Base):
    """One subject's (a user's or an agent's) instance of a template: its own field values."""

    __tablename__ = "profiles"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    template_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("profile_templates.id", ondelete="CASCADE")
    )
    subject_kind: Mapped[str] = mapped_column(Text)  # a ``ProfileSubject``
    subject_id: Mapped[str] = mapped_column(Text)
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class ProfileHistory(Base):
    """One change to one field of a profile: who made it, from what to what, from which
    messages. No foreign key to the profile: its history outlives it."""

    __tablename__ = "profile_history"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    profile_id: Mapped[uuid.UUID] = mapped_column(UUID)
    template_id: Mapped[uuid.UUID] = mapped_column(UUID)
    subject_kind: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)  # the field's names joined by "."
    actor: Mapped[str] = mapped_column(Text)  # a ``ProfileActor``
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    source_message_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list)
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    created_at: Mapped[datetime] = _now()
