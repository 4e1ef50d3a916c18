"""The closed vocabularies of the columns: memories, their history, tasks, jobs and documents.

Each is a ``StrEnum`` whose values are exactly the strings stored, so a member compares equal to
the column's text, binds as that text in SQL and renders as it in JSON: naming them changes no
row and no response, and a misspelt word becomes an error mypy or Python reports instead of a
query that silently matches nothing. Rows read back from the database hold plain strings; compare
them with these members, never with bare literals.
"""

from __future__ import annotations

from enum import StrEnum


class MemoryKind(StrEnum):
    """What a memory holds: a fact about the user or a preference of theirs (the two every mode
    makes); an episode (event: what happened, when, where, with whom), a tool call's trajectory
    (tool) or a skill an agent uploaded (skill), the Cloud's ``event``, ``tool_memory`` and
    ``skill`` views."""

    FACT = "fact"
    PREFERENCE = "preference"
    EVENT = "event"
    TOOL = "tool"
    SKILL = "skill"


class PreferenceType(StrEnum):
    """A preference the user stated (explicit) or one inferred from their choices (implicit).
    A preference row without one is read as explicit."""

    EXPLICIT = "explicit_preference"
    IMPLICIT = "implicit_preference"


class MemoryMode(StrEnum):
    """How a memory was made: verbatim turns (fast), by the LLM (fine), or a user's feedback."""

    FAST = "fast"
    FINE = "fine"
    FEEDBACK = "feedback"


class MemoryStatus(StrEnum):
    """Whether search and listings show a memory (activated) or it was superseded (archived).

    Deleted memories are removed, not marked; their ``DELETE`` history row is what remains.
    """

    ACTIVATED = "activated"
    ARCHIVED = "archived"


class HistoryEvent(StrEnum):
    """What happened to a memory, one ``memory_history`` row per change."""

    ADD = "ADD"
    UPDATE = "UPDATE"
    ARCHIVE = "ARCHIVE"
    DELETE = "DELETE"


class TaskStatus(StrEnum):
    """Where an add-like request's task is: its job still to finish, done, or failed for good
    (``tasks.error`` says why; a completed fine add's names a kind the model failed on)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class JobKind(StrEnum):
    """The work a job does: fine extraction of an add (``services.fine.refine``), applying a user's
    feedback (``services.fine.feedback``) or reading a knowledge-base document
    (``services.knowledge.ingest``)."""

    REFINE = "refine"
    FEEDBACK = "feedback"
    KNOWLEDGE = "knowledge"


class JobStatus(StrEnum):
    """Where a job is in the queue: waiting (``queued``, also between attempts), held by a
    worker (``running``), ``done``, or ``failed`` for good."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class FileStatus(StrEnum):
    """Where a knowledge-base document is: its job running, its passages searchable, or failed
    (``knowledge_files.error`` says why). The Cloud's words for a document's status."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class ProfileSubject(StrEnum):
    """Whose a profile is: a user's (``user_id``) or an agent's own (``agent_id``)."""

    USER = "user"
    AGENT = "agent"


class ProfileActor(StrEnum):
    """Who changed a profile field: the model in fine mode, the client (bind, edit/profile,
    delete/profile) or a template update carried to its profiles."""

    MODEL = "model"
    CLIENT = "client"
    TEMPLATE = "template"
