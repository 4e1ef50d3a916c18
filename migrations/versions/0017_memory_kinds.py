"""Memory kinds beyond facts and preferences: events, tool trajectories and skills.

The Cloud's ``event``, ``tool_memory`` and ``skill`` views are memories like facts: one row each
in ``memories``, searched and deleted the same way (``storage/vocabulary.MemoryKind``). Only the
check on ``kind`` changes; no row is rewritten.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("ck_memories_kind", "memories", type_="check")
    op.create_check_constraint(
        "ck_memories_kind",
        "memories",
        "kind IN ('fact', 'preference', 'event', 'tool', 'skill')",
    )


def downgrade() -> None:
    op.execute("DELETE FROM memories WHERE kind NOT IN ('fact', 'preference')")
    op.drop_constraint("ck_memories_kind", "memories", type_="check")
    op.create_check_constraint("ck_memories_kind", "memories", "kind IN ('fact', 'preference')")
