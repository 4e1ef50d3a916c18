"""A knowledge-base document named by URL: the URL its job fetches (MEMOS_KNOWLEDGE__URL_FETCH).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("knowledge_files", sa.Column("source_url", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("knowledge_files", "source_url")
