"""Group chat: who said each message. ``role_id`` names the speaker (one of the add's user_ids,
or its agent); ``role_name`` is how the conversation calls them (the name memories are written
with). Both optional: a one-user add sets neither.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE messages ADD COLUMN role_id text, ADD COLUMN role_name text")


def downgrade() -> None:
    op.execute("ALTER TABLE messages DROP COLUMN role_id, DROP COLUMN role_name")
