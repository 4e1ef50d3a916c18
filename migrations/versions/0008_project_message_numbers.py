"""Message numbers per project: the ids clients see reveal nothing of other projects.

Message ids were the global identity of ``messages``, so a client reading its own ids saw how
many messages every other project had stored meanwhile. Each message now also has ``seq``, its
number within its project (1, 2, 3, ... in the order stored), which is what clients see as its
``message_id``; the global ``id`` stays the row's key for everything inside the service (memory
sources and history rows keep naming messages by it). ``projects.message_seq`` is the last
number handed out: an add takes its numbers from it in the transaction that stores its messages.
Existing messages are numbered per project in id order, which is the order they were stored.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "projects",
        sa.Column("message_seq", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.add_column("messages", sa.Column("seq", sa.BigInteger))
    op.execute(
        """
        UPDATE messages SET seq = numbered.seq
        FROM (
            SELECT id, row_number() OVER (PARTITION BY project_id ORDER BY id) AS seq
            FROM messages
        ) AS numbered
        WHERE messages.id = numbered.id
        """
    )
    op.alter_column("messages", "seq", nullable=False)
    op.create_index("ux_messages_project_seq", "messages", ["project_id", "seq"], unique=True)
    op.execute(
        """
        UPDATE projects SET message_seq = last.seq
        FROM (SELECT project_id, max(seq) AS seq FROM messages GROUP BY project_id) AS last
        WHERE projects.id = last.project_id
        """
    )


def downgrade() -> None:
    op.drop_index("ux_messages_project_seq", "messages")
    op.drop_column("messages", "seq")
    op.drop_column("projects", "message_seq")
