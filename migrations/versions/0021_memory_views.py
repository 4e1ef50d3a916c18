"""Memory views: each kind's own fields, and the views an add may produce.

``memories.details`` holds what a kind has beyond a key and a value (an event's times, places
and people; a tool trajectory's calls; a skill's name and description): JSONB, ``{}`` for facts
and preferences, so it is not mixed into ``info``, the client's filterable metadata.
``tasks.memory_views`` keeps an add's ``allow_memory_view`` for its fine job (NULL: the
defaults, ``services/memory_views.py``).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "memories",
        sa.Column("details", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.add_column("tasks", sa.Column("memory_views", ARRAY(sa.Text()), nullable=True))


def downgrade() -> None:
    op.drop_column("tasks", "memory_views")
    op.drop_column("memories", "details")
