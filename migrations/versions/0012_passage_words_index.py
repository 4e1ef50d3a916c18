"""A GIN index on passages' words: the full-text channel over a knowledge base reads only the
passages holding a query's words instead of testing every passage of the base.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_knowledge_passages_tsv", "knowledge_passages", ["tsv"], postgresql_using="gin"
    )


def downgrade() -> None:
    op.drop_index("ix_knowledge_passages_tsv", table_name="knowledge_passages")
