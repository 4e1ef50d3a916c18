"""Reindex re-embeds knowledge-base passages too: ``knowledge_passages.embedding_next`` and the
same guard as memories (migration 0009).

``memos-server reindex`` fills ``embedding_next`` of passages as of memories, a batch per
transaction, and swaps both in one transaction (``services/reindex.py``). The guard refuses a
passage's vector from a connection whose model is not the bound one: a document job of a
service still on the old model after the swap fails instead of storing the old model's vectors.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE knowledge_passages ADD COLUMN embedding_next vector")
    # As ``embedding`` (0011): kept in the row, not in TOAST.
    op.execute("ALTER TABLE knowledge_passages ALTER COLUMN embedding_next SET STORAGE MAIN")
    # The function reads NEW.embedding and NEW.embedding_next only: it serves both tables.
    op.execute(
        "CREATE TRIGGER knowledge_passages_embedding_guard BEFORE INSERT OR UPDATE ON "
        "knowledge_passages FOR EACH ROW EXECUTE FUNCTION memories_embedding_guard()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER knowledge_passages_embedding_guard ON knowledge_passages")
    op.execute("ALTER TABLE knowledge_passages DROP COLUMN embedding_next")
