"""Domain errors. Each carries its MemOS error code and HTTP status; ``api`` renders them.

    MemosError                     50000 / 500 (anything unexpected)
    ├── MemoryWriteFailed          50143 / 500 (the database refused a memory write)
    ├── MessageWriteFailed         50144 / 500 (the database refused an add's messages)
    ├── BadRequest                 40000 / 400
    │   ├── RequiredFieldEmpty     40002 / 400
    │   ├── RelativityInvalid      40012 / 400 (relativity not a number in 0..1)
    │   ├── UnsupportedType        40006 / 400
    │   ├── UnsupportedFileType    40007 / 400 (a knowledge-base document of another format)
    │   ├── InvalidBase64          40008 / 400
    │   ├── UrlFetchOff            40000 / 400 (a document by URL, and fetching is off)
    │   ├── BodyTimeout            40000 / 408 (the body came too slowly; connection closed)
    │   └── IdempotencyKeyReused   40000 / 422 (the key came with another request before)
    ├── TooLong                    40305 / 413
    │   ├── MessagesTooLong        40013 / 413 (too many messages, or one too long)
    │   ├── UserIdTooLong          40010 / 413
    │   ├── ConversationIdTooLong  40011 / 413
    │   ├── TooManyFiles           50103 / 413
    │   └── FileTooLarge           50104 / 413 (bytes or pages)
    ├── NotFound                   40001 / 404
    │   ├── MemoryNotFound         40307 / 404
    │   └── KnowledgeBaseNotFound  50120 / 404
    ├── KnowledgeBaseNotLinked     50123 / 403 (another project's base or document)
    ├── Unauthenticated            40100 / 401
    │   └── InvalidApiKey          40132 / 401
    ├── AdminApiOff                40100 / 403 (no MEMOS_ADMIN_KEY set)
    ├── RateLimited                40300 / 429 (with Retry-After)
    │   ├── InputTokensRateLimited 40309 / 429 (a key's input tokens a minute; Retry-After)
    │   └── TooManyFailedKeys      40300 / 429 (a client's wrong keys; with Retry-After)
    └── ServiceUnavailable         50004 / 503
        ├── DatabaseUnavailable    50004 / 503 (Postgres stopped or restarting; Retry-After)
        ├── DatabaseTimeout        50004 / 503 (a statement ran past its timeout; Retry-After)
        ├── SearchUnavailable      50005 / 503
        ├── LLMNotConfigured       50004 / 503 (an endpoint that needs a model, none set)
        ├── EmbeddingModelRetired  50004 / 503 (a reindex bound the database to another model)
        └── llm.LLMUnavailable     50004 / 503 (the model failed after retries)

Services raise these; they never import FastAPI.
"""

from __future__ import annotations

import math


class MemosError(Exception):
    code = 50000
    status = 500
    default_message = "internal error"
    retry_after_s: int | None = None  # sent as Retry-After: the failure should pass by then

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class MemoryWriteFailed(MemosError):
    """A memory write the database refused for a reason of its own (not the client's value,
    not an outage): the Cloud's "failed to add memory"."""

    code = 50143
    default_message = "failed to write the memory"


class MessageWriteFailed(MemosError):
    """An add's messages the database refused for a reason of its own: the Cloud's "failed to
    add message" (the chat history could not be saved)."""

    code = 50144
    default_message = "failed to store the messages"


class BadRequest(MemosError):
    code = 40000
    status = 400
    default_message = "bad parameters"


class RelativityInvalid(BadRequest):
    code = 40012
    default_message = "relativity must be a number from 0 to 1"


class RequiredFieldEmpty(BadRequest):
    code = 40002
    default_message = "a required field is empty"


class UnsupportedType(BadRequest):
    code = 40006
    default_message = "unsupported type"


class UnsupportedFileType(BadRequest):
    code = 40007
    default_message = "unsupported file type"


class InvalidBase64(BadRequest):
    code = 40008
    default_message = "invalid base64 content"


class UrlFetchOff(BadRequest):
    default_message = (
        "this server does not fetch documents by URL (it would fetch addresses its clients "
        "choose; MEMOS_KNOWLEDGE__URL_FETCH turns it on): send the document's content as "
        "base64, or upload it as multipart/form-data"
    )


class BodyTimeout(BadRequest):
    status = 408
    default_message = "request body not received in time"


class IdempotencyKeyReused(BadRequest):
    """An ``Idempotency-Key`` sent again with a request other than the one it first came with:
    answering the first request's task would silently drop this one."""

    status = 422

    def __init__(self, endpoint: str) -> None:
        super().__init__(
            f"Idempotency-Key was already used on {endpoint} with a different request (another "
            "user, conversation, messages or metadata); send a new key for a new request"
        )


class TooLong(MemosError):
    code = 40305
    status = 413
    default_message = "input too long"


class MessagesTooLong(TooLong):
    code = 40013
    default_message = "messages too long"


class UserIdTooLong(TooLong):
    code = 40010


class ConversationIdTooLong(TooLong):
    code = 40011


class TooManyFiles(TooLong):
    code = 50103


class FileTooLarge(TooLong):
    code = 50104


class NotFound(MemosError):
    code = 40001
    status = 404
    default_message = "not found"


class MemoryNotFound(NotFound):
    code = 40307
    default_message = "memory not found"


class KnowledgeBaseNotFound(NotFound):
    code = 50120
    default_message = "knowledge base not found"


class KnowledgeBaseNotLinked(MemosError):
    code = 50123
    status = 403
    default_message = "knowledge base not linked to this project"


class Unauthenticated(MemosError):
    code = 40100
    status = 401
    default_message = "API key required: send 'Authorization: Token <key>'"


class InvalidApiKey(Unauthenticated):
    code = 40132
    default_message = "API key invalid or revoked"


class AdminApiOff(MemosError):
    code = 40100
    status = 403
    default_message = "the admin API is off: set MEMOS_ADMIN_KEY to use it"


class RateLimited(MemosError):
    code = 40300
    status = 429
    default_message = "rate limited"

    def __init__(self, retry_after_s: float, limit: str) -> None:
        # Whole seconds, at least one: what the Retry-After header can say.
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        super().__init__(
            f"too many requests for this API key ({limit}); retry after {self.retry_after_s} s"
        )


class InputTokensRateLimited(RateLimited):
    """A key sent more text (estimated tokens of messages, feedback, chat queries) in a minute
    than ``limits.input_tokens_per_minute`` allows."""

    code = 40309

    def __init__(self, retry_after_s: float, per_minute: int) -> None:
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        MemosError.__init__(
            self,
            f"input tokens per minute exceeded for this API key ({per_minute:,}, "
            f"MEMOS_LIMITS__INPUT_TOKENS_PER_MINUTE); retry after {self.retry_after_s} s",
        )


class TooManyFailedKeys(RateLimited):
    """A client sent more wrong keys than it may (``services.failed_keys``)."""

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        MemosError.__init__(
            self, f"too many wrong API keys from this address; retry after {self.retry_after_s} s"
        )


class ServiceUnavailable(MemosError):
    code = 50004
    status = 503
    default_message = "memory service unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    """Postgres cannot be reached (stopped, restarting, refusing connections). The service
    reconnects on its own once it is back; the client repeats the request (an add with the same
    ``Idempotency-Key`` is stored once, even if its first try was stored after all)."""

    default_message = "database unavailable, try again shortly"
    retry_after_s = 5


class DatabaseTimeout(ServiceUnavailable):
    """A statement ran longer than ``database.statement_timeout_s`` (Postgres cancelled it, and
    its transaction rolled back): the database is overloaded or the request asked too much."""

    default_message = "the database did not answer in time (statement timeout), try again shortly"
    retry_after_s = 5


class SearchUnavailable(ServiceUnavailable):
    code = 50005
    default_message = "search service unavailable"


class LLMNotConfigured(ServiceUnavailable):
    default_message = (
        "this endpoint needs a language model and none is configured: set MEMOS_LLM__BASE_URL "
        "and MEMOS_LLM__MODEL (and MEMOS_LLM__API_KEY if the endpoint wants one)"
    )


class EmbeddingModelRetired(ServiceUnavailable):
    """A reindex bound the database to another embedding model than this process holds: its
    vectors would not compare with the stored ones, so it answers this until restarted."""

    default_message = "the database is bound to another embedding model: restart the service"
    retry_after_s = 30


class ConfigurationError(Exception):
    """The service cannot start as configured (wrong embedding dimension, bad URL, ...)."""
