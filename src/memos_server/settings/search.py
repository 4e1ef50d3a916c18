"""How search ranks and what it returns (``MEMOS_SEARCH__*``)."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator

from memos_server.settings.group import Group


class SearchSettings(Group):
    channels: Literal["hybrid", "vector", "text"] = Field(
        default="hybrid", description="Vector, full-text, or both fused."
    )
    fusion: Literal["weighted", "rrf"] = Field(
        default="weighted", description="A weighted sum of the scores, or reciprocal rank fusion."
    )
    rrf_k: int = Field(default=60, ge=1, description="RRF constant: higher flattens the ranks.")
    vector_weight: float = Field(
        default=0.8, ge=0.0, le=1.0, description="Share of the vector score in relativity."
    )
    candidates: int = Field(
        default=50, ge=1, le=1000, description="Memories each channel proposes for fusion."
    )
    single_scan_from: int = Field(
        default=2,
        ge=1,
        le=1_000_000,
        description="With this many searches under way in the process (this one included), a "
        "search reads both channels in one pass over the user's rows (less CPU); below it, its "
        "full-text statement runs beside the query's embedding (less latency). 1: always one "
        "pass.",
    )
    relativity_floor: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="`relativity` of a search that sends none "
        "(unset: the model's level for the query's language; services/search/relevance.py).",
    )
    common_word_share: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="A query word held by more than this share of the memories searched (a "
        "speaker's name on every line) counts for nothing in the full-text score (1: off).",
    )
    time_boost: float = Field(
        default=0.15,
        ge=0.0,
        le=1.0,
        description="Added to the score of memories in the period a query's time words name.",
    )
    timezone: str = Field(
        default="UTC",
        max_length=64,
        description="The IANA time zone whose days a query's time words count (昨天, last "
        "week, 2023年5月): e.g. Asia/Shanghai, where yesterday starts eight hours before UTC's.",
    )
    recency_lift: float = Field(
        default=0.08,
        ge=0.0,
        le=1.0,
        description="Largest relativity gap by which a newer memory about the same subject as an "
        "older one still goes above it (0: off; see BENCHMARKS.md).",
    )
    recency_languages: list[Literal["zh", "en"]] = Field(
        default=["zh"], description="Query languages newer-over-older applies to (BENCHMARKS.md)."
    )
    recency_similarity_z: float = Field(
        default=1.5,
        description="Two candidates are about the same subject when their cosine similarity is "
        "this many standard deviations above the mean of the candidates' pairs.",
    )
    recency_min_gap_s: float = Field(
        default=86400.0,
        ge=0.0,
        description="A newer memory replaces an older one only if said this much later (one "
        "conversation's windows continue a subject; they do not update it).",
    )
    recency_candidates: int = Field(
        default=20,
        ge=1,
        le=200,
        description="Fused candidates compared for newer siblings (at least the result limit).",
    )
    reranker: str | None = Field(
        default=None,
        description="Off when unset; a local cross-encoder folder, or an http(s) /rerank URL.",
    )
    reranker_model: str | None = Field(
        default=None, description="Model name sent to an HTTP rerank endpoint, if it wants one."
    )
    reranker_api_key: SecretStr | None = Field(
        default=None, description="Bearer key for an HTTP rerank endpoint."
    )
    reranker_candidates: int = Field(
        default=20, ge=1, le=200, description="Fused results the reranker reorders."
    )
    reranker_timeout_s: float = Field(default=10.0, gt=0, description="HTTP rerank timeout.")
    instruction_max_tokens: int = Field(
        default=2000,
        ge=100,
        description="Token budget of instruction / full_instruction (least relevant dropped).",
    )
    context_source_messages: int = Field(
        default=5,
        ge=1,
        le=50,
        description="context_format sources / mixed: a fact's source messages shown at most "
        "(its last ones), in the instructions and in message_detail_list.",
    )
    hnsw_min_memories: int = Field(
        default=0,
        ge=0,
        description="Give each user with this many memories of a kind an HNSW index of their "
        "own (approximate search); 0: always the exact scan.",
    )
    hnsw_ef_search: int = Field(
        default=100, ge=1, le=1000, description="HNSW candidates per search (recall vs time)."
    )
    hnsw_m: int = Field(default=16, ge=2, le=100, description="HNSW links per node.")
    hnsw_ef_construction: int = Field(
        default=64, ge=4, le=1000, description="HNSW candidates while building."
    )
    hnsw_sync_interval_s: float = Field(
        default=600.0, gt=0, description="How often indexes are made for users who grew."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name, as Asia/Shanghai)"
            ) from error
        return value

    def zone(self) -> ZoneInfo:
        """``timezone`` as a zone (``ZoneInfo`` keeps one instance per name)."""
        return ZoneInfo(self.timezone)
