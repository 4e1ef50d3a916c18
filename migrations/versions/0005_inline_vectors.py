"""Keep memory vectors inside their rows (storage MAIN), out of TOAST.

A 384-dimension vector takes 1.5 kB, so a memory row with its text passes the 2 kB TOAST
threshold and Postgres moved the vector out of line: every row the exact scan read cost a TOAST
index lookup and a second heap fetch. With MAIN the text columns go out of line first and the
vector stays in the row. Rows stored before are rewritten (a fresh value; an unchanged one would
keep its TOAST pointer), so this migration takes time in proportion to the table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE memories ALTER COLUMN embedding SET STORAGE MAIN")
    op.execute("UPDATE memories SET embedding = embedding::text::vector")


def downgrade() -> None:
    op.execute("ALTER TABLE memories ALTER COLUMN embedding SET STORAGE EXTENDED")
