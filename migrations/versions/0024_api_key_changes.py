"""Tell every service process when an API key changes: ``NOTIFY memos_api_keys``.

Each process keeps the keys it has checked in memory (``services/key_cache.py``) instead of
looking the key up on every request. A key revoked, deleted (its project deleted) or rewritten
by any process, the CLI or plain SQL sends a notification as its transaction commits, and every
listening process forgets the keys it knew. Writing a key's last-use time (once a minute per key)
changes nothing a process caches and sends none.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "memos_api_keys"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE FUNCTION memos_api_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER api_keys_changed AFTER UPDATE ON api_keys FOR EACH ROW "
        "WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at "
        "OR OLD.key_hash IS DISTINCT FROM NEW.key_hash "
        "OR OLD.project_id IS DISTINCT FROM NEW.project_id) "
        "EXECUTE FUNCTION memos_api_keys_changed()"
    )
    op.execute(
        "CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys FOR EACH ROW "
        "EXECUTE FUNCTION memos_api_keys_changed()"
    )
    op.execute(
        "CREATE TRIGGER api_keys_truncated AFTER TRUNCATE ON api_keys FOR EACH STATEMENT "
        "EXECUTE FUNCTION memos_api_keys_changed()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER api_keys_truncated ON api_keys")
    op.execute("DROP TRIGGER api_keys_deleted ON api_keys")
    op.execute("DROP TRIGGER api_keys_changed ON api_keys")
    op.execute("DROP FUNCTION memos_api_keys_changed()")
