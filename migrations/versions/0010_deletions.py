"""Deletions: what delete/user and delete/message removed, recorded without content.

One row per deletion: the project, what was deleted (``user`` or ``conversation``), a keyed
digest of the user id (and conversation id) instead of the ids themselves, when, and how many
rows of each kind went. An operator asked "was this user forgotten?" recomputes the digest from
the id the person gives (``services/forget.subject_digest``) and finds the row; the table itself
names no one and holds nothing they said.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deletions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "project_id", UUID, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("counts", JSONB, nullable=False, server_default="{}"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("scope IN ('user', 'conversation')", name="ck_deletions_scope"),
    )
    op.create_index("ix_deletions_subject", "deletions", ["project_id", "subject"])


def downgrade() -> None:
    op.drop_table("deletions")
