"""Settings of knowledge bases (``MEMOS_KNOWLEDGE__*``), reached through ``Settings.knowledge``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class KnowledgeSettings(BaseModel):
    # A misspelt variable is an error at start-up, as in every other group.
    model_config = ConfigDict(extra="forbid")

    max_file_bytes: int = Field(
        default=20_000_000,
        ge=1,
        description="Largest document one upload may hold (bytes, decoded); over it: 413.",
    )
    max_files_per_upload: int = Field(
        default=20, ge=1, description="Documents in one add/knowledgebase-file (the Cloud's 20)."
    )
    max_pages: int = Field(
        default=500, ge=1, description="Pages of one PDF (the Cloud's 500); over it: 413."
    )
    max_passages_per_file: int = Field(
        default=5_000,
        ge=1,
        description="Passages one document may make; a longer one fails its job with the reason.",
    )
    max_text_chars: int = Field(
        default=5_000_000,
        ge=1,
        description="Characters of text one document may yield (a zip bomb of a docx stops here).",
    )
    passage_chars: int = Field(
        default=500,
        ge=50,
        le=4_000,
        description="Target length of one passage (characters); sentences are never cut unless "
        "one alone is longer.",
    )
    search_limit: int = Field(
        default=6,
        ge=0,
        le=25,
        description="Passages search/memory returns when knowledgebase_ids is set and the request "
        "names no knowledgebase_limit_number.",
    )
    hnsw_min_passages: int = Field(
        default=2_000,
        ge=0,
        description="Give each knowledge base with this many passages an HNSW index of its own "
        "(searches read it instead of scanning every passage); 0: never.",
    )
    common_word_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="A query word in more than this share of all passages is left out of the "
        "passages' full-text channel (it weighs next to nothing and costs a scan); 1: never.",
    )
