"""Idempotency-Keys scoped to their endpoint; a blank key is no key.

An ``Idempotency-Key`` was unique per project; it is now unique per project and endpoint (task
``kind``), so add/message and add/feedback keep separate keys. Blank keys, stored while an empty
header still counted as a key (every later add with one answered the first add's task), are
cleared.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE tasks SET idempotency_key = NULL WHERE btrim(idempotency_key) = ''")
    op.drop_index("ux_tasks_idempotency_key", "tasks")
    op.create_index(
        "ux_tasks_idempotency_key",
        "tasks",
        ["project_id", "kind", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )


def downgrade() -> None:
    # A key used on both endpoints would break the narrower index: keep its first use.
    op.execute(
        """
        UPDATE tasks SET idempotency_key = NULL
        WHERE idempotency_key IS NOT NULL AND EXISTS (
            SELECT 1 FROM tasks AS first
            WHERE first.project_id = tasks.project_id
              AND first.idempotency_key = tasks.idempotency_key
              AND (first.created_at, first.id) < (tasks.created_at, tasks.id)
        )
        """
    )
    op.drop_index("ux_tasks_idempotency_key", "tasks")
    op.create_index(
        "ux_tasks_idempotency_key",
        "tasks",
        ["project_id", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
