"""A message's ``source`` (the channel it came from, as add/message and /chat say it), and the
index /get/status reads a task's memory changes through.

``source`` is free text the client chooses, kept as sent and returned by get/message; null for
every message stored before. /get/status's ``memory_views`` are the task's ``memory_history``
rows (every path that makes, changes or archives a memory writes one with its task): the
partial index finds them without scanning the history of the whole project.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("source", sa.Text(), nullable=True))
    op.create_index(
        "ix_memory_history_task",
        "memory_history",
        ["task_id"],
        postgresql_where=sa.text("task_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_memory_history_task", table_name="memory_history")
    op.drop_column("messages", "source")
