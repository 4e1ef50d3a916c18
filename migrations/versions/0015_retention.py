"""Retention: memories that expire, a project's TTL, and an add's expiry kept on its task.

``memories.expires_at`` (NULL: never) is read by every query of live memories and by the sweep;
the sweep finds the expired ones through a partial index that holds only memories with an
expiry, so projects that never use retention pay nothing for it. ``projects.ttl_days`` overrides
``MEMOS_RETENTION__DEFAULT_TTL_DAYS`` for one project (0: forever, NULL: the default).
``tasks.expires_at`` is the expiry an add resolved, which its fine job gives the memories it
makes later. A sweep's purge is recorded in ``deletions`` with the scope ``expiry``.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("memories", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_memories_expires_at",
        "memories",
        ["expires_at"],
        postgresql_where=sa.text("expires_at IS NOT NULL"),
    )
    op.add_column("projects", sa.Column("ttl_days", sa.Integer(), nullable=True))
    op.add_column("tasks", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    # A sweep's purge is recorded like a forgetting, scope ``expiry``.
    op.drop_constraint("ck_deletions_scope", "deletions", type_="check")
    op.create_check_constraint(
        "ck_deletions_scope", "deletions", "scope IN ('user', 'conversation', 'expiry')"
    )


def downgrade() -> None:
    op.execute("DELETE FROM deletions WHERE scope = 'expiry'")
    op.drop_constraint("ck_deletions_scope", "deletions", type_="check")
    op.create_check_constraint(
        "ck_deletions_scope", "deletions", "scope IN ('user', 'conversation')"
    )
    op.drop_column("tasks", "expires_at")
    op.drop_column("projects", "ttl_days")
    op.drop_index("ix_memories_expires_at", table_name="memories")
    op.drop_column("memories", "expires_at")
