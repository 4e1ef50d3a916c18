"""Knowledge bases: a project's documents and the passages search/memory recalls beside memories.

``knowledge_files.content`` holds an upload until its job has parsed it. Passages carry the
base's id as well as the file's, so a search narrows to the named bases through one index
without a join; their vectors stay in the row (storage MAIN, as memories' since 0005) and their
tokens feed a generated ``tsv`` like memories' (0004).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE knowledge_bases (
            id uuid PRIMARY KEY,
            project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            name text NOT NULL,
            description text,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX ix_knowledge_bases_project ON knowledge_bases (project_id)")
    op.execute(
        """
        CREATE TABLE knowledge_files (
            id uuid PRIMARY KEY,
            project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            knowledgebase_id uuid NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
            task_id uuid NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
            name text NOT NULL,
            type text NOT NULL,
            size_bytes bigint NOT NULL,
            status text NOT NULL,
            error text,
            passages integer NOT NULL DEFAULT 0,
            seq bigint GENERATED ALWAYS AS IDENTITY,
            content bytea,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX ix_knowledge_files_base ON knowledge_files (knowledgebase_id, seq)")
    op.execute(
        """
        CREATE TABLE knowledge_passages (
            id uuid PRIMARY KEY,
            project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            knowledgebase_id uuid NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
            file_id uuid NOT NULL REFERENCES knowledge_files(id) ON DELETE CASCADE,
            position integer NOT NULL,
            page integer,
            heading text NOT NULL DEFAULT '',
            text text NOT NULL,
            embedding vector NOT NULL,
            search_text text NOT NULL DEFAULT '',
            tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("ALTER TABLE knowledge_passages ALTER COLUMN embedding SET STORAGE MAIN")
    op.execute("CREATE INDEX ix_knowledge_passages_base ON knowledge_passages (knowledgebase_id)")
    op.execute("CREATE INDEX ix_knowledge_passages_file ON knowledge_passages (file_id, position)")


def downgrade() -> None:
    op.execute("DROP TABLE knowledge_passages")
    op.execute("DROP TABLE knowledge_files")
    op.execute("DROP TABLE knowledge_bases")
