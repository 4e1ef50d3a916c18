"""Re-embedding with another model on a live database: ``memories.embedding_next`` and a guard.

``memos-server reindex`` fills ``embedding_next`` with the new model's vectors in batches while
searches keep reading ``embedding`` (the old model's), then swaps them in one transaction and
binds the database to the new model (see ``services/reindex.py``).

The trigger keeps the two columns honest whoever writes:

- a memory whose ``embedding`` changes (its text was edited) while a reindex runs loses its
  ``embedding_next``: the new vector was made for the old text, so the reindex embeds it again;
- a connection that says which model it embeds with (``memos.embedding_model``, set by every
  process that holds a model) may write ``embedding`` only if the database is bound to that
  model: a service still running the old model after the swap is refused (SQLSTATE ME001)
  instead of mixing its vectors with the new model's.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE memories ADD COLUMN embedding_next vector")
    # As ``embedding`` (0005): kept in the row, not in TOAST.
    op.execute("ALTER TABLE memories ALTER COLUMN embedding_next SET STORAGE MAIN")
    # pgvector's ``=`` refuses vectors of two sizes (the swap to a model of another size).
    op.execute(
        """
        CREATE FUNCTION memories_same_vector(a vector, b vector) RETURNS boolean
        LANGUAGE sql IMMUTABLE AS $$
            SELECT CASE
                WHEN a IS NULL OR b IS NULL THEN a IS NULL AND b IS NULL
                WHEN vector_dims(a) <> vector_dims(b) THEN false
                ELSE a = b
            END
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION memories_embedding_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            mine text := current_setting('memos.embedding_model', true);
            bound text;
        BEGIN
            IF TG_OP = 'UPDATE' AND memories_same_vector(NEW.embedding, OLD.embedding) THEN
                RETURN NEW;
            END IF;
            IF TG_OP = 'UPDATE' AND memories_same_vector(NEW.embedding_next, OLD.embedding_next)
            THEN
                NEW.embedding_next := NULL;
            END IF;
            IF coalesce(mine, '') <> '' THEN
                SELECT value INTO bound FROM service_meta WHERE key = 'embedding_model';
                IF bound IS NOT NULL AND bound <> mine THEN
                    RAISE EXCEPTION USING ERRCODE = 'ME001', MESSAGE = format(
                        'this database is now bound to the embedding model %s; this process '
                        'embeds with %s: restart it with the new model', bound, mine);
                END IF;
            END IF;
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER memories_embedding_guard BEFORE INSERT OR UPDATE ON memories "
        "FOR EACH ROW EXECUTE FUNCTION memories_embedding_guard()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER memories_embedding_guard ON memories")
    op.execute("DROP FUNCTION memories_embedding_guard()")
    op.execute("DROP FUNCTION memories_same_vector(vector, vector)")
    op.execute("ALTER TABLE memories DROP COLUMN embedding_next")
    op.execute("DELETE FROM service_meta WHERE key LIKE 'reindex_%'")
