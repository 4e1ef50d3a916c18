"""Tasks record their LLM usage: calls, prompt tokens, completion tokens.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("llm_calls", "prompt_tokens", "completion_tokens")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("tasks", sa.Column(name, sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    for name in COLUMNS:
        op.drop_column("tasks", name)
