"""Full-text channel (tokens + generated tsvector, GIN) and GIN indexes for info and tags filters.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    op.add_column("memories", sa.Column("search_text", sa.Text, nullable=False, server_default=""))
    op.execute(
        "ALTER TABLE memories ADD COLUMN tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED"
    )
    op.create_index("ix_memories_tsv", "memories", ["tsv"], postgresql_using="gin")
    op.execute("CREATE INDEX ix_memories_info ON memories USING gin (info jsonb_path_ops)")
    op.create_index("ix_memories_tags", "memories", ["tags"], postgresql_using="gin")
    _backfill()


def _backfill() -> None:
    """Tokens for memories written before this revision."""
    from memos_server.text.tokens import index_tokens

    connection = op.get_bind()
    last = None
    while True:
        query = "SELECT id, memory_key, memory_value FROM memories WHERE search_text = ''"
        params: dict[str, object] = {}
        if last is not None:
            query += " AND id > :last"
            params["last"] = last
        rows = connection.execute(sa.text(query + f" ORDER BY id LIMIT {BATCH}"), params).all()
        if not rows:
            return
        for memory_id, key, value in rows:
            connection.execute(
                sa.text("UPDATE memories SET search_text = :t WHERE id = :id"),
                {"t": index_tokens(f"{key}\n{value}") or " ", "id": memory_id},
            )
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_memories_tags", "memories")
    op.execute("DROP INDEX ix_memories_info")
    op.drop_index("ix_memories_tsv", "memories")
    op.drop_column("memories", "tsv")
    op.drop_column("memories", "search_text")
