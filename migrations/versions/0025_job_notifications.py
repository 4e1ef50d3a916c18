"""Wake every worker when a job can be claimed: ``NOTIFY memos_jobs``.

A worker used to look for jobs every second while idle: a transaction that claimed nothing, about
5 % of a core on the 2-core VM of BENCHMARKS.md, and N workers' worth of statements on a shared
Postgres. Now a job queued (or queued again, or due sooner), or an unfinished one ending (done,
failed, handed back for a retry, deleted, moved to another user: the same user's next job may run
now), sends a notification as its transaction commits, whoever wrote it (a service, a worker,
the CLI, plain SQL); each worker listens (``storage.notifications``) and looks at once, and
otherwise only when the next retry or lease falls due (``services.jobs.worker``). A job being
claimed or its lease renewed sends none.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "memos_jobs"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE FUNCTION memos_jobs_ready() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END
        $$
        """
    )
    # Row triggers whose WHEN is checked without calling the function; notifications repeated
    # within a transaction reach listeners once.
    op.execute(
        "CREATE TRIGGER jobs_queued AFTER INSERT ON jobs FOR EACH ROW "
        "WHEN (NEW.status = 'queued') EXECUTE FUNCTION memos_jobs_ready()"
    )
    # Ended (done, failed, handed back); queued again or sooner; or moved to another user (a
    # delete/user hands a task over to the user it was shared with), which may unblock the jobs
    # after it in either user's queue.
    op.execute(
        "CREATE TRIGGER jobs_changed AFTER UPDATE OF status, run_after, user_id, project_id "
        "ON jobs FOR EACH ROW WHEN ("
        "(OLD.status IN ('queued', 'running') AND NEW.status NOT IN ('queued', 'running')) "
        "OR (NEW.status = 'queued' AND (OLD.status <> 'queued' OR NEW.run_after < OLD.run_after)) "
        "OR (OLD.status IN ('queued', 'running') "
        "AND (NEW.user_id <> OLD.user_id OR NEW.project_id <> OLD.project_id))"
        ") EXECUTE FUNCTION memos_jobs_ready()"
    )
    op.execute(
        "CREATE TRIGGER jobs_deleted AFTER DELETE ON jobs FOR EACH ROW "
        "WHEN (OLD.status IN ('queued', 'running')) EXECUTE FUNCTION memos_jobs_ready()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER jobs_deleted ON jobs")
    op.execute("DROP TRIGGER jobs_changed ON jobs")
    op.execute("DROP TRIGGER jobs_queued ON jobs")
    op.execute("DROP FUNCTION memos_jobs_ready()")
