"""Profiles (the Cloud's Property Tree): templates per project, one profile per bound subject,
and the history of every change to a profile's fields.

A template's and a profile's fields are a JSONB array of ``{path, value, algorithm_updatable,
updated_at}`` (``path`` a list of one to three names): an array keeps the order the client wrote
them in, which a JSONB object would not. A profile belongs to one subject, a user or an agent
(``subject_kind``), and to one template; ``profile_history`` keeps who changed which field from
what to what (the model, the client, a template update), with the messages the model read. It
has no foreign key to ``profiles``: the history of a deleted profile outlives it, until
delete/user erases the subject's rows.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "profile_templates",
        sa.Column("id", pg.UUID(), primary_key=True),
        sa.Column(
            "project_id",
            pg.UUID(),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("fields", pg.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index(
        "ix_profile_templates_project", "profile_templates", ["project_id", "created_at"]
    )
    op.create_table(
        "profiles",
        sa.Column("id", pg.UUID(), primary_key=True),
        sa.Column(
            "project_id",
            pg.UUID(),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "template_id",
            pg.UUID(),
            sa.ForeignKey("profile_templates.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("subject_kind", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.Text(), nullable=False),
        sa.Column("fields", pg.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("subject_kind IN ('user', 'agent')", name="ck_profiles_subject_kind"),
        sa.UniqueConstraint(
            "template_id", "subject_kind", "subject_id", name="uq_profiles_template_subject"
        ),
    )
    op.create_index("ix_profiles_subject", "profiles", ["project_id", "subject_kind", "subject_id"])
    op.create_table(
        "profile_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "project_id",
            pg.UUID(),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("profile_id", pg.UUID(), nullable=False),
        sa.Column("template_id", pg.UUID(), nullable=False),
        sa.Column("subject_kind", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column(
            "source_message_ids",
            pg.ARRAY(sa.BigInteger()),
            nullable=False,
            server_default=sa.text("'{}'::bigint[]"),
        ),
        sa.Column("task_id", pg.UUID(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint(
            "actor IN ('model', 'client', 'template')", name="ck_profile_history_actor"
        ),
    )
    op.create_index("ix_profile_history_profile", "profile_history", ["profile_id", "id"])
    op.create_index(
        "ix_profile_history_subject",
        "profile_history",
        ["project_id", "subject_kind", "subject_id"],
    )


def downgrade() -> None:
    op.drop_table("profile_history")
    op.drop_table("profiles")
    op.drop_table("profile_templates")
