"""Keep a memory row whole in the heap: ``toast_tuple_target = 8160`` on ``memories``, and the
rows stored before rewritten in short batches, online.

A row holds its 384-dimension vector (1,544 bytes, kept in the row since 0005) beside its text,
search text and generated ``tsv``: about 2.4 kB, over the 2 kB at which Postgres moves values out
to TOAST. With the default target it moved ``tsv`` and the search text (or the value) out of
every row, so the full-text channel, which reads both of each candidate, paid a TOAST index
lookup and a TOAST heap fetch per value: on 20 users x 2,000 memories a search read ~6,400
shared buffers (5,900 of them the full-text channel's, 5,200 TOAST), and ~1,750 with the rows
whole (three rows a page instead of four: the exact vector scan reads ~28% more heap, the
full-text channel 82% less). Only a row that cannot fit a page (a very long memory) still sends
values to TOAST.

The setting applies to rows written from now on; a row keeps its TOAST pointers until it is
written with fresh values, so the rows stored before are rewritten: each column that can be
moved out set to a freshly computed equal value (``tsv`` is regenerated from the search text),
in batches of heap pages (``ctid`` ranges, a TID range scan each) of one short transaction
each, so no row stays locked for longer than its batch and the table is never locked against
reads or writes. Batches go in physical order, so a user's rows stored together stay together
(the primary key is a random uuid: batches by key would scatter them). Rows that move past the
end the rewrite started from are new versions and are not visited again. A ``VACUUM (ANALYZE)``
at the end frees the old versions' space for new rows and gives the planner the new widths; the
heap grows by the table's size once (the old versions' pages are reused afterwards).

A migration rather than a background step: it runs once, needs no progress kept anywhere,
and a process of the old code, which reads either layout, keeps serving meanwhile (the schema
does not change); the start that applies it waits for it (9-17 s for 29,600 memories on a busy
2-core machine, some minutes a million: ``memos-server db upgrade`` can run it ahead while the
old version still serves). On Postgres 13, which has no TID range scan, the batches go by primary
key ranges instead (their rows land apart).

The batches commit as they go (Alembic's autocommit block), which ends the migration
transaction and with it its advisory lock (``env.py``): a session lock on the same key holds off
another process's migration meanwhile, and the lock goes back to the transaction that records
the revision.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30
"""

import uuid
from collections.abc import Sequence

from alembic import context, op
from sqlalchemy import text

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The highest target Postgres takes (TOAST_TUPLE_TARGET_MAIN): a row goes to TOAST only when it
# cannot fit a page.
WHOLE_ROW_TARGET = 8160
# Heap pages per batch: ~1,000 rows of ~2.4 kB, a fraction of a second each.
BATCH_PAGES = 256
MIGRATION_LOCK_ID = 7_202_511_210  # env.py's

# Every column a row can send to TOAST, set to an equal value that is not its stored pointer.
# (The vectors are stored MAIN: they leave the row only when nothing else can.)
FRESH_VALUES = ", ".join(
    [
        *(
            f"{column} = {column} || ''"
            for column in (
                "user_id",
                "conversation_id",
                "agent_id",
                "app_id",
                "memory_key",
                "memory_value",
                "memory_type",
                "preference_type",
                "reasoning",
                "prompt_version",
                "search_text",
            )
        ),
        "tags = tags || '{}'::text[]",
        "source_message_ids = source_message_ids || '{}'::bigint[]",
        "corrects = corrects || '{}'::uuid[]",
        "knowledgebase_ids = knowledgebase_ids || '{}'::uuid[]",
        "info = info::text::jsonb",
        "details = details::text::jsonb",
    ]
)
REWRITE_PAGES = text(
    f"UPDATE memories SET {FRESH_VALUES} "  # noqa: S608 (fixed text)
    "WHERE ctid >= format('(%s,0)', CAST(:first AS bigint))::tid "
    "AND ctid < format('(%s,0)', CAST(:last AS bigint))::tid"
)
REWRITE_KEYS = text(
    f"UPDATE memories SET {FRESH_VALUES} WHERE id IN "  # noqa: S608 (fixed text)
    "(SELECT id FROM memories WHERE id > :after ORDER BY id LIMIT :rows) RETURNING id"
)
ROWS_PER_PAGE = 4  # what a page held in the old layout


def rewrite_by_pages(batch_pages: int) -> None:
    """Every row stored before, ``batch_pages`` heap pages per statement (a TID range scan,
    Postgres 14 and later), in physical order."""
    bind = op.get_bind()
    pages = bind.scalar(
        text("SELECT pg_relation_size('memories') / current_setting('block_size')::bigint")
    )
    for first in range(0, int(pages or 0), batch_pages):
        bind.execute(REWRITE_PAGES, {"first": first, "last": first + batch_pages})


def rewrite_by_keys(batch_pages: int) -> None:
    """The same by primary key ranges, for Postgres 13 (a ``ctid`` range would scan the whole
    table each time there): the rows of a batch are scattered, so they land apart."""
    bind = op.get_bind()
    after = uuid.UUID(int=0)
    while True:
        done = bind.execute(REWRITE_KEYS, {"after": after, "rows": batch_pages * ROWS_PER_PAGE})
        ids = [row[0] for row in done]
        if not ids:
            return
        after = max(ids)  # uuid order is byte order, as Postgres compares them


def upgrade() -> None:
    op.execute(f"ALTER TABLE memories SET (toast_tuple_target = {WHOLE_ROW_TARGET})")
    if context.is_offline_mode():
        # A script has no loop: one statement (one transaction) over the whole table.
        op.execute(f"UPDATE memories SET {FRESH_VALUES}")  # noqa: S608 (fixed text)
        return
    batch_pages = int(context.config.attributes.get("row_rewrite_pages", BATCH_PAGES))
    by_keys = context.config.attributes.get("row_rewrite_by_keys", False)
    by_keys = by_keys or op.get_bind().dialect.server_version_info < (14,)
    op.execute(f"SELECT pg_advisory_lock({MIGRATION_LOCK_ID})")
    with op.get_context().autocommit_block():
        (rewrite_by_keys if by_keys else rewrite_by_pages)(batch_pages)
        op.execute("VACUUM (ANALYZE) memories")
    op.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
    op.execute(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_ID})")


def downgrade() -> None:
    # Rows written from now on are toasted as before; the rows already whole stay so (valid
    # either way).
    op.execute("ALTER TABLE memories RESET (toast_tuple_target)")
