"""User feedback (add/feedback): the raw feedback, and memories made from it (mode 'feedback').

A feedback row keeps what the user said, as messages keep a conversation, so the job that applies
it with the LLM reads it from here. The feedback itself also becomes a memory whose mode is
'feedback' and whose ``corrects`` lists the memories it was given against (the user's memories
that share its words or meaning); search shows it directly above any of them it returns.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "project_id", UUID, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("conversation_id", sa.Text),
        sa.Column("agent_id", sa.Text),
        sa.Column("app_id", sa.Text),
        sa.Column("task_id", UUID, sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("feedback_time", sa.DateTime(timezone=True)),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_feedback_task", "feedback", ["task_id"])
    op.create_index("ix_feedback_user", "feedback", ["project_id", "user_id"])
    op.drop_constraint("ck_memories_mode", "memories", type_="check")
    op.create_check_constraint(
        "ck_memories_mode", "memories", "mode IN ('fast', 'fine', 'feedback')"
    )
    # Only feedback memories fill it; a constant default adds the column without a rewrite.
    op.add_column(
        "memories", sa.Column("corrects", ARRAY(UUID), nullable=False, server_default="{}")
    )


def downgrade() -> None:
    op.drop_column("memories", "corrects")
    op.execute("DELETE FROM memories WHERE mode = 'feedback'")
    op.drop_constraint("ck_memories_mode", "memories", type_="check")
    op.create_check_constraint("ck_memories_mode", "memories", "mode IN ('fast', 'fine')")
    op.drop_table("feedback")
