"""Initial schema: projects, API keys, messages, memories, memory history, tasks, service meta.

The embedding column is a dimensionless ``vector``: the dimension follows the configured model and
is fixed at the service's first start (recorded in ``service_meta`` and enforced by a CHECK
constraint), so migrations do not need to load the model.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _times(*names: str) -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())
        for name in names
    ]


def _project_fk() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "project_id",
        UUID,
        sa.ForeignKey("projects.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")

    op.create_table(
        "projects",
        sa.Column("id", UUID, primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        *_times("created_at"),
    )

    op.create_table(
        "api_keys",
        sa.Column("id", UUID, primary_key=True, server_default=sa.text("gen_random_uuid()")),
        _project_fk(),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("prefix", sa.Text, nullable=False),
        sa.Column("key_hash", sa.Text, nullable=False, unique=True),
        *_times("created_at"),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_api_keys_project", "api_keys", ["project_id"])

    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        _project_fk(),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("conversation_id", sa.Text, nullable=False),
        sa.Column("agent_id", sa.Text),
        sa.Column("app_id", sa.Text),
        sa.Column("task_id", UUID),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("content_parts", JSONB),
        sa.Column("tool_call_id", sa.Text),
        sa.Column("tool_calls", JSONB),
        sa.Column("chat_time", sa.DateTime(timezone=True)),
        sa.Column("tags", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("info", JSONB, nullable=False, server_default="{}"),
        *_times("created_at", "updated_at"),
    )
    op.create_index(
        "ix_messages_conversation", "messages", ["project_id", "user_id", "conversation_id"]
    )
    op.create_index("ix_messages_agent", "messages", ["project_id", "agent_id"])
    op.create_index("ix_messages_app", "messages", ["project_id", "app_id"])
    op.create_index("ix_messages_task", "messages", ["task_id"])

    op.create_table(
        "memories",
        sa.Column("id", UUID, primary_key=True, server_default=sa.text("gen_random_uuid()")),
        _project_fk(),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("conversation_id", sa.Text),
        sa.Column("agent_id", sa.Text),
        sa.Column("app_id", sa.Text),
        sa.Column("task_id", UUID),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("memory_key", sa.Text, nullable=False),
        sa.Column("memory_value", sa.Text, nullable=False),
        sa.Column("memory_type", sa.Text, nullable=False),
        sa.Column("preference_type", sa.Text),
        sa.Column("reasoning", sa.Text),
        sa.Column("tags", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("memory_time", sa.DateTime(timezone=True)),
        sa.Column("confidence", sa.Float, nullable=False, server_default="1"),
        sa.Column("status", sa.Text, nullable=False, server_default="activated"),
        sa.Column("embedding", Vector(), nullable=False),
        sa.Column("source_message_ids", ARRAY(sa.BigInteger), nullable=False, server_default="{}"),
        sa.Column("info", JSONB, nullable=False, server_default="{}"),
        sa.Column("prompt_version", sa.Text),
        *_times("create_time", "update_time"),
        sa.CheckConstraint("kind IN ('fact', 'preference')", name="ck_memories_kind"),
        sa.CheckConstraint("mode IN ('fast', 'fine')", name="ck_memories_mode"),
        sa.CheckConstraint("status IN ('activated', 'archived')", name="ck_memories_status"),
    )
    # The per-user exact vector scan reads this index: one user's active memories of one kind.
    op.create_index(
        "ix_memories_user_scan", "memories", ["project_id", "user_id", "kind", "status"]
    )
    op.create_index("ix_memories_conversation", "memories", ["project_id", "conversation_id"])
    op.create_index("ix_memories_agent", "memories", ["project_id", "agent_id"])
    op.create_index("ix_memories_app", "memories", ["project_id", "app_id"])
    op.create_index("ix_memories_task", "memories", ["task_id"])

    op.create_table(
        "memory_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("memory_id", UUID, nullable=False),
        _project_fk(),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text),
        sa.Column("source_message_ids", ARRAY(sa.BigInteger), nullable=False, server_default="{}"),
        sa.Column("task_id", UUID),
        *_times("created_at"),
    )
    op.create_index("ix_memory_history_memory", "memory_history", ["memory_id"])

    op.create_table(
        "tasks",
        sa.Column("id", UUID, primary_key=True, server_default=sa.text("gen_random_uuid()")),
        _project_fk(),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("conversation_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        *_times("created_at", "updated_at"),
        sa.CheckConstraint("status IN ('running', 'completed', 'failed')", name="ck_tasks_status"),
    )
    op.create_index("ix_tasks_project", "tasks", ["project_id"])

    op.create_table(
        "service_meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "service_meta",
        "tasks",
        "memory_history",
        "memories",
        "messages",
        "api_keys",
        "projects",
    ):
        op.drop_table(table)
