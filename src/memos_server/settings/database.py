"""The database settings: where Postgres is (the primary, its read replicas), the connection
pool, and the embedded server's memory settings."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from memos_server.settings.group import Group

# A Postgres memory size with its unit (a bare number means 8 kB pages for shared_buffers and
# kB for work_mem: too easy to get wrong), or "auto": sized from the machine at start-up.
MEMORY_SIZE = r"^(auto|[1-9][0-9]{0,8}(kB|MB|GB|TB))$"


class DatabaseSettings(Group):
    # None: start the embedded Postgres (pgserver) in ``<data_dir>/postgres``.
    url: SecretStr | None = Field(
        default=None,
        description="postgresql:// URL of a Postgres with pgvector; unset runs an embedded one.",
    )
    read_urls: Annotated[list[SecretStr] | None, NoDecode] = Field(
        default=None,
        description="postgresql:// URLs of read replicas of the primary (comma-separated, or a "
        "JSON list): search/memory, get/memory, get/message and the console's reads go to them "
        "(docs/scaling.md). Unset: every read goes to the primary.",
    )
    read_your_writes_s: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="A user's reads within this many seconds of that user's last write in this "
        "process go to the primary, not to a replica that may not have it yet (0: never).",
    )
    read_check_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="How often each read replica is checked (up, and how far behind).",
    )
    read_retry_max_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="A replica that is down is tried again after 1 s, then twice as long each "
        "time, up to this; its reads go to the primary meanwhile.",
    )
    read_max_lag_s: float = Field(
        default=30.0,
        gt=0,
        le=86400,
        description="A replica replaying more than this many seconds behind the primary gets no "
        "reads until it catches up.",
    )
    pool_size: int = Field(
        default=20,
        ge=1,
        description="Connections per process (and per replica), each opened when first needed "
        "and kept open.",
    )
    max_overflow: int = Field(
        default=0,
        ge=0,
        description="Extra connections under load, each closed again as soon as it is handed "
        "back: under steady load that is a new Postgres backend (and every statement prepared "
        "again on it) for nearly every request beyond pool_size, so none by default.",
    )
    connect_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="Longest wait to open a connection; beyond it a request answers 503.",
    )
    ping_idle_s: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="A pooled connection idle at least this long is pinged (one round trip) "
        "before a request uses it; one the server closed is replaced without a round trip "
        "whatever its idle time (0: ping at every checkout).",
    )
    pool_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Longest wait for a free pooled connection; beyond it a request answers 503.",
    )
    key_cache_s: float = Field(
        default=30.0,
        ge=0,
        le=300,
        description="How long a process keeps an API key it checked, so the key's next requests "
        "cost no database round trip (it forgets them all as soon as any key changes: "
        "LISTEN memos_api_keys). 0: look the key up on every request (for a pooler that "
        "does not pass notifications on, e.g. PgBouncer in transaction mode).",
    )
    statement_timeout_s: float = Field(
        default=30.0,
        ge=0,
        description="Longest a request's or job's SQL statement may run; beyond it the request "
        "answers 503 (0: no limit). Migrations and index builds are not bound by it.",
    )
    echo: bool = Field(default=False, description="Log every SQL statement (debugging only).")

    @field_validator("read_urls", mode="before")
    @classmethod
    def _listed(cls, value: object) -> object:
        """``a,b`` or ``["a", "b"]`` from the environment; an empty list is no replica."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                value = json.loads(text)
            else:
                value = [part.strip() for part in text.split(",") if part.strip()]
        return value or None


class PostgresSettings(Group):
    """The embedded Postgres's memory (ignored with ``database.url``: tune your own server).
    Applied when the service starts it, with ALTER SYSTEM (and a restart when shared_buffers
    changed); ``auto`` sizes each from the machine's memory (``storage/postgres_memory.py``)."""

    shared_buffers: str = Field(
        default="auto",
        pattern=MEMORY_SIZE,
        description="Postgres' own page cache, e.g. 512MB; auto: a quarter of the machine's "
        "memory, at least 128MB and at most 4GB.",
    )
    effective_cache_size: str = Field(
        default="auto",
        pattern=MEMORY_SIZE,
        description="What the planner assumes Postgres and the OS cache together hold, e.g. "
        "4GB; auto: half the machine's memory.",
    )
    work_mem: str = Field(
        default="auto",
        pattern=MEMORY_SIZE,
        description="Memory one sort or hash of a query may use before spilling to disk, e.g. "
        "16MB; auto: the machine's memory / 400, between 4MB and 64MB.",
    )
