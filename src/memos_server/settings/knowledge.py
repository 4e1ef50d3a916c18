"""Settings of knowledge bases (``MEMOS_KNOWLEDGE__*``), reached through ``Settings.knowledge``."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HOST = re.compile(r"^(?=.{1,253}\.?$)[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.?$")


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
    url_fetch: bool = Field(
        default=False,
        description="Fetch documents whose JSON content is an http(s) URL (in the document's "
        "job; public addresses only unless url_allow names them); off: such uploads answer 400.",
    )
    url_allow: list[str] = Field(
        default_factory=list,
        description="Hosts or CIDR ranges a fetched URL may reach although they are not public "
        '(private, loopback, link-local...), as JSON: ["10.0.0.0/8", "docs.internal"].',
    )
    url_ca_bundle: Path | None = Field(
        default=None,
        description="A PEM file of certificate authorities trusted for https document URLs "
        "besides the usual ones (certifi's): documents served under an internal CA.",
    )
    url_max_chars: int = Field(
        default=2_048, ge=16, le=65_536, description="Longest document URL; over it: 400."
    )
    url_max_redirects: int = Field(
        default=5, ge=0, le=20, description="Redirects one fetch follows (each one checked again)."
    )
    url_connect_timeout_s: float = Field(
        default=5.0, gt=0, le=120, description="Seconds to connect to a document's server."
    )
    url_read_timeout_s: float = Field(
        default=15.0, gt=0, le=600, description="Seconds a document's server may stay silent."
    )
    url_total_timeout_s: float = Field(
        default=60.0,
        gt=0,
        le=3_600,
        description="Seconds one fetch may take in all, redirects and body included.",
    )

    @field_validator("url_allow")
    @classmethod
    def _hosts_or_ranges(cls, entries: list[str]) -> list[str]:
        """A malformed entry is an error at start-up, not a range silently allowing nothing."""
        for entry in entries:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                if not _HOST.match(entry.strip()):
                    raise ValueError(f"not a host name or CIDR range: {entry!r}") from None
        return entries
