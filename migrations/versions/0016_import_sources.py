"""Imports: where each exported project's messages were numbered in the project it went into.

An export numbers its messages as its project did (1, 2, ...). An import into an empty project
keeps those numbers; into one that has messages already, they follow its last number. Which of
the two was chosen is kept here, per target project and exported project, so that importing the
same file again finds the same numbers (and so the messages already there) instead of adding a
second copy (``services/portability/import_.py``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE import_sources (
            project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            source text NOT NULL,
            message_base bigint NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (project_id, source)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE import_sources")
