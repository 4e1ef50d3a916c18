"""The export format (``docs/export.md``): JSON Lines, a header then one record per line.

Every line is one JSON object with a ``type``. The first is the ``header``; the records follow in
``ORDER`` (tasks before the messages, memories and documents that name them; memories before the
feedback and history that name them), each kind's records together. A reader checks the header's
``format`` and ``version`` first and refuses a version it does not know: a version number changes
whenever a record gains, loses or changes a field, so a reader never guesses.

The records are checked strictly (unknown fields refused): a line that does not fit is an error
naming its line, never a record half read.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, TypeAdapter, ValidationError

from memos_server.errors import BadRequest
from memos_server.services.portability import fields as rules

FORMAT = "memos-server-export"
VERSION = 3  # what this service writes
# Record kinds in the order a file of each version holds them. Version 2 moved knowledge bases
# first: a memory names the bases it is shared into (``knowledgebase_ids``).
ORDERS: dict[int, tuple[str, ...]] = {
    1: (
        "task",
        "message",
        "memory",
        "history",
        "feedback",
        "knowledge_base",
        "knowledge_file",
        "passage",
    ),
    2: (
        "knowledge_base",
        "task",
        "message",
        "memory",
        "history",
        "feedback",
        "knowledge_file",
        "passage",
    ),
}
# Version 3: memories and passages carry their words; profiles (their templates first) last.
ORDERS[3] = (*ORDERS[2], "profile_template", "profile")
ORDER = ORDERS[VERSION]
# Fields a version added, refused in a file of an older version (it could not have written them).
ADDED_IN: dict[int, dict[str, frozenset[str]]] = {
    2: {
        "memory": frozenset({"expires_at", "knowledgebase_ids", "details"}),
        "message": frozenset({"source", "role_id", "role_name"}),
    },
    3: {"memory": frozenset({"search_text"}), "passage": frozenset({"search_text"})},
}


class FormatError(BadRequest):
    """A line of an import that is not a record of the format (or not of this version)."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Header(_Record):
    type: Literal["header"]
    format: str
    version: int
    exported_at: rules.Time
    project_id: uuid.UUID = Field(description="The exported project's id: the import's source.")
    project: str
    user_id: str | None = Field(description="Only this user's records (None: every user's).")
    embeddings: bool = Field(description="Memories and passages carry their vectors.")
    model: str | None = Field(description="The embedding model of the vectors.")
    dimension: int | None
    message_seq: int = Field(ge=0, le=rules.MAX_MESSAGE_NUMBER, description="The last number.")
    counts: dict[str, int] = Field(description="Records of each kind the file holds.")
    words: str | None = Field(
        default=None,
        description="Version 3: what made the records' search_text (text.tokens.words_version).",
    )


class TaskRecord(_Record):
    type: Literal["task"]
    id: uuid.UUID
    kind: str
    user_id: str
    conversation_id: str
    status: str
    error: str | None
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    created_at: rules.Time
    updated_at: rules.Time


class MessageRecord(_Record):
    type: Literal["message"]
    number: rules.MessageNumber = Field(description="Its number in the project: its message_id.")
    user_id: str
    conversation_id: str
    agent_id: str | None
    app_id: str | None
    task_id: uuid.UUID | None
    role: str
    content: str
    content_parts: list[dict[str, Any]] | None
    tool_call_id: str | None
    tool_calls: list[dict[str, Any]] | None
    chat_time: rules.Time | None
    tags: list[str]
    info: dict[str, Any]
    # Absent from files of version 1.
    source: str | None = Field(default=None, description="The channel it was added with.")
    role_id: str | None = Field(default=None, description="A group chat's speaker id.")
    role_name: str | None = Field(default=None, description="A group chat's speaker name.")
    created_at: rules.Time
    updated_at: rules.Time


class HistoryRow(_Record):
    event: Literal["ADD", "UPDATE", "ARCHIVE", "DELETE"]
    old_value: str | None
    new_value: str | None
    source_messages: list[int] = Field(description="Message numbers, as in message records.")
    task_id: uuid.UUID | None
    created_at: rules.Time


class MemoryRecord(_Record):
    type: Literal["memory"]
    id: uuid.UUID
    user_id: rules.SubjectId
    conversation_id: str | None
    agent_id: str | None
    app_id: str | None
    task_id: uuid.UUID | None
    kind: Literal["fact", "preference", "event", "tool", "skill"]
    mode: Literal["fast", "fine", "feedback"]
    memory_key: str
    memory_value: rules.Text
    memory_type: str
    preference_type: rules.PreferenceType | None
    reasoning: str | None
    tags: list[str]
    memory_time: rules.Time | None
    confidence: rules.Confidence
    status: Literal["activated", "archived"]
    source_messages: list[int]
    corrects: list[uuid.UUID]
    info: dict[str, Any]
    # What the kind holds beyond key and value (events, tools, skills); absent in older files.
    details: dict[str, Any] = Field(default_factory=dict)
    prompt_version: str | None
    create_time: rules.Time
    update_time: rules.Time
    # Version 2: when it expires (None: never), the knowledge bases it is shared into.
    expires_at: rules.Time | None = None
    knowledgebase_ids: list[uuid.UUID] = Field(default_factory=list)
    history: list[HistoryRow] = Field(description="Its history rows, oldest first.")
    # Version 3: the words the full-text channel indexes, kept when the header's words match.
    search_text: str | None = Field(default=None, max_length=rules.MAX_WORDS_CHARS)
    embedding: list[FiniteFloat] | None = None


class ProfileFieldRow(_Record):
    """A template's or a profile's field as stored (``services/profiles/trees.Field``)."""

    path: list[Annotated[str, Field(min_length=1, pattern=r"^[^.]*$")]] = Field(
        min_length=1, max_length=3
    )
    value: str
    algorithm_updatable: bool
    updated_at: str | None = None


class ProfileTemplateRecord(_Record):  # version 3
    type: Literal["profile_template"]
    id: uuid.UUID
    name: str
    fields: list[ProfileFieldRow]
    created_at: rules.Time
    updated_at: rules.Time


class ProfileHistoryRow(_Record):
    path: str
    actor: Literal["model", "client", "template"]
    old_value: str | None
    new_value: str | None
    source_messages: list[int] = Field(description="Message numbers, as in message records.")
    task_id: uuid.UUID | None
    created_at: rules.Time


class ProfileRecord(_Record):
    """A user's or an agent's profile (version 3), bound to a template of the file or the
    project, with its history rows."""

    type: Literal["profile"]
    id: uuid.UUID
    template_id: uuid.UUID
    subject_kind: Literal["user", "agent"]
    subject_id: str
    fields: list[ProfileFieldRow]
    created_at: rules.Time
    updated_at: rules.Time
    history: list[ProfileHistoryRow] = Field(description="Its history rows, oldest first.")


class DeletedHistoryRecord(_Record):
    """The history of a memory since deleted (it outlives the memory)."""

    type: Literal["history"]
    memory_id: uuid.UUID
    history: list[HistoryRow]


class FeedbackRecord(_Record):
    type: Literal["feedback"]
    task_id: uuid.UUID
    user_id: str
    conversation_id: str | None
    agent_id: str | None
    app_id: str | None
    content: str
    feedback_time: rules.Time | None
    created_at: rules.Time


class KnowledgeBaseRecord(_Record):
    type: Literal["knowledge_base"]
    id: uuid.UUID
    name: str
    description: str | None
    created_at: rules.Time


class KnowledgeFileRecord(_Record):
    type: Literal["knowledge_file"]
    id: uuid.UUID
    knowledgebase_id: uuid.UUID
    task_id: uuid.UUID
    name: str
    file_type: str
    size_bytes: int
    status: str
    error: str | None
    passages: int
    created_at: rules.Time
    updated_at: rules.Time


class PassageRecord(_Record):
    type: Literal["passage"]
    id: uuid.UUID
    knowledgebase_id: uuid.UUID
    file_id: uuid.UUID
    position: int
    page: int | None
    heading: str
    text: rules.Text
    created_at: rules.Time
    search_text: str | None = Field(default=None, max_length=rules.MAX_WORDS_CHARS)
    embedding: list[FiniteFloat] | None = None


Record = (
    TaskRecord
    | MessageRecord
    | MemoryRecord
    | DeletedHistoryRecord
    | FeedbackRecord
    | KnowledgeBaseRecord
    | KnowledgeFileRecord
    | PassageRecord
    | ProfileTemplateRecord
    | ProfileRecord
)
_RECORD: TypeAdapter[Record] = TypeAdapter(Annotated[Record, Field(discriminator="type")])


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "line"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def read_header(line: bytes, number: int = 1) -> Header:
    """The file's first line, checked: this format, a version this reader knows."""
    try:
        raw = json.loads(line)
    except ValueError:
        raise FormatError(f"line {number}: not JSON; an export starts with its header") from None
    if not isinstance(raw, dict) or raw.get("type") != "header":
        raise FormatError(f"line {number}: an export starts with its header line")
    if raw.get("format") != FORMAT:
        raise FormatError(f"line {number}: not a {FORMAT} file (format {raw.get('format')!r})")
    if raw.get("version") not in ORDERS or isinstance(raw.get("version"), bool):
        known = " and ".join(str(v) for v in ORDERS)
        raise FormatError(
            f"line {number}: export format version {raw.get('version')!r} is not one this "
            f"service reads (it reads versions {known})"
        )
    try:
        return Header.model_validate(raw)
    except ValidationError as error:
        raise FormatError(f"line {number}: header {_problem(error)}") from None


@dataclass(frozen=True)
class CarriedVector:
    """A record's vector as pgvector's text, and its size."""

    text: str
    dimension: int


_VECTOR = b',"embedding":'


def _vector_at_end(line: bytes) -> tuple[bytes, CarriedVector] | None:
    """The line without its vector, and the vector, when the vector is its last field (as an
    export writes it). Parsing 384 floats costs Python a third of a millisecond and printing
    them again half of one: the vector's text is only checked to hold nothing but numbers and
    commas, and handed to Postgres as it is, which parses it (a number it refuses, such as one
    out of a float's range, is the import's error: ``Importer``). None when the line is not
    laid out so."""
    head, found, tail = line.rstrip().rpartition(_VECTOR)
    if not found or not tail.endswith(b"}"):
        return None
    text = tail[:-1].strip()
    if not (text.startswith(b"[") and text.endswith(b"]")) or text[1:-1].translate(None, _NUMERIC):
        return None
    dimension = text.count(b",") + 1 if text[1:-1].strip() else 0
    return head + b"}", CarriedVector(text.decode(), dimension)


_NUMERIC = b"0123456789.,-+eE \t"


def read_record(
    line: bytes, number: int, version: int = VERSION
) -> tuple[Record, CarriedVector | None]:
    """One record line of a file of ``version``, checked against its type's fields, and the
    vector it carries."""
    vector = None
    if split := _vector_at_end(line):
        line, vector = split
    try:
        record = _RECORD.validate_json(line)
    except ValidationError as error:
        if error.errors()[0]["type"] == "json_invalid":
            raise FormatError(f"line {number}: not JSON") from None
        raise FormatError(f"line {number}: {_problem(error)}") from None
    if record.type not in ORDERS[version]:
        since = min(v for v, order in ORDERS.items() if record.type in order)
        raise FormatError(
            f"line {number}: {record.type} records came in version {since}; the header says "
            f"version {version}"
        )
    for added_in, fields in ADDED_IN.items():
        newer = fields.get(record.type, frozenset()) & record.model_fields_set
        if version < added_in and newer:
            raise FormatError(
                f"line {number}: {', '.join(sorted(newer))} came in version {added_in}; "
                f"the header says version {version}"
            )
    carried = getattr(record, "embedding", None)
    if vector is not None and not hasattr(record, "embedding"):
        raise FormatError(f"line {number}: a {record.type} record carries no embedding")
    if carried is not None:
        vector = CarriedVector(json.dumps(carried, separators=(",", ":")), len(carried))
    return record, vector


def kind_of(record: Record) -> str:
    return record.type


def dump(record: dict[str, Any], embedding: str | None, default: Callable[[Any], str]) -> bytes:
    """One line: the record as JSON, with a vector already in JSON text (as Postgres prints a
    vector) spliced in unparsed."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=default)
    if embedding is not None:
        text = f'{text[:-1]},"embedding":{embedding}}}'
    return (text + "\n").encode()
