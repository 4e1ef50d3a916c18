"""Memories shared into knowledge bases (``allow_knowledgebase_ids`` on add/message, add/feedback
and /chat): the bases a memory is written into, and the request's choice kept on its task for
the fine job that makes the rest of its memories.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMPTY = sa.text("'{}'::uuid[]")


def upgrade() -> None:
    for table in ("memories", "tasks"):
        op.add_column(
            table,
            sa.Column(
                "knowledgebase_ids",
                postgresql.ARRAY(postgresql.UUID()),
                nullable=False,
                server_default=_EMPTY,
            ),
        )
    # A search naming bases finds the memories shared into them with ``&&`` through this index.
    # Not partial: the planner cannot prove ``knowledgebase_ids <> '{}'`` from ``&&``, and an
    # empty array costs a GIN index one entry.
    op.create_index(
        "ix_memories_knowledgebase_ids",
        "memories",
        ["knowledgebase_ids"],
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_index("ix_memories_knowledgebase_ids", table_name="memories")
    for table in ("memories", "tasks"):
        op.drop_column(table, "knowledgebase_ids")
