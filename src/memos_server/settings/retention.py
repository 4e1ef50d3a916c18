"""Settings of retention (``MEMOS_RETENTION__*``), reached through ``Settings.retention``:
memories that expire, and the sweep that purges them (``docs/retention.md``)."""

from __future__ import annotations

from pydantic import Field

from memos_server.settings.group import Group


class RetentionSettings(Group):
    default_ttl_days: int = Field(
        default=0,
        ge=0,
        le=36_500,
        description="Days a memory made by an add lives when its project sets no TTL and the add "
        "gives no expiry (0: forever).",
    )
    max_ttl_days: int = Field(
        default=3_650,
        ge=1,
        le=36_500,
        description="Furthest an add's info.expires_at / info.ttl_seconds or a project TTL may "
        "reach (days); beyond it: 400.",
    )
    sweep_interval_s: float = Field(
        default=300.0,
        gt=0,
        description="Seconds between two sweeps that purge expired memories (one process at a "
        "time sweeps).",
    )
    sweep_batch: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Expired memories purged per transaction of a sweep.",
    )
    run_sweep: bool = Field(
        default=True,
        description="Sweep inside the API process (off: only `memos-server retention sweep`).",
    )
