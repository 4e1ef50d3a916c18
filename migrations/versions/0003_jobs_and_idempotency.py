"""Durable jobs (claimed with FOR UPDATE SKIP LOCKED) and idempotent adds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("task_id", UUID, sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "project_id", UUID, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="queued"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column(
            "run_after", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("locked_by", sa.Text),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name="ck_jobs_status"
        ),
    )
    # Unfinished jobs, in order: what workers claim, and what keeps one user's jobs in order.
    op.create_index(
        "ix_jobs_open_by_user",
        "jobs",
        ["project_id", "user_id", "id"],
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.create_index(
        "ix_jobs_open",
        "jobs",
        ["id"],
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.create_index("ix_jobs_task", "jobs", ["task_id"])

    op.add_column("tasks", sa.Column("idempotency_key", sa.Text))
    op.add_column("tasks", sa.Column("fingerprint", sa.Text))
    op.create_index(
        "ux_tasks_idempotency_key",
        "tasks",
        ["project_id", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.create_index("ix_tasks_fingerprint", "tasks", ["project_id", "fingerprint", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_fingerprint", "tasks")
    op.drop_index("ux_tasks_idempotency_key", "tasks")
    op.drop_column("tasks", "fingerprint")
    op.drop_column("tasks", "idempotency_key")
    op.drop_table("jobs")
