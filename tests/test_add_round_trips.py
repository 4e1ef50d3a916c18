"""What a fast add sends to Postgres, counted where asyncpg sends it: the repeat check before the
embedding runs outside a transaction and reads the project's TTL with it, the advisory locks are
one statement, the look-up under them and the task's INSERT are one (its INSERT holds what its
fine job needs), the messages and the memories (with their history rows) are one pipelined
statement each: eight round trips with BEGIN and COMMIT. A repeat is answered with one."""

from __future__ import annotations

from tests.support.api import Api
from tests.support.driver_log import driver_queries
from tests.support.service import ServiceThread

MESSAGES = [
    {"role": "user", "content": "我周末常去香山爬山"},
    {"role": "assistant", "content": "好的，记住了"},
    {"role": "user", "content": "I also play the piano on Sundays"},
]


def _first_word(query: str) -> str:
    return query.split()[0].rstrip(";").upper()


def test_a_fast_add_and_its_repeat_in_few_round_trips(service: ServiceThread, api_key: str) -> None:
    body = {"user_id": "rt", "conversation_id": "c1", "messages": MESSAGES, "async_mode": False}
    with Api(service.base_url, api_key) as api, driver_queries(service) as sent:
        api.ok("/add/message", body | {"allow_memory_view": ["detail_factual"]})
        added = list(sent)
        sent.clear()
        api.ok("/add/message", body | {"allow_memory_view": ["detail_factual"]})
        repeat = list(sent)

    # The add's own statements: up to its COMMIT (background work may follow). SQLAlchemy's are
    # recorded as they start (its BEGIN goes out with the first of them), the driver's as they
    # finish.
    added = added[: [_first_word(q) for q in added].index("COMMIT") + 1]
    shown = "\n".join(added)
    # The repeat check comes first, outside any transaction (no BEGIN before it), with the TTL.
    assert added[0].startswith("SELECT projects.ttl_days"), shown
    assert "FROM tasks" in added[0], shown
    [begin] = [i for i, q in enumerate(added) if _first_word(q) == "BEGIN"]
    assert begin == 1, shown
    # Every write is inside the one transaction, after the locks.
    assert "pg_advisory_xact_lock" in added[begin + 1], shown
    assert sum("pg_advisory" in q for q in added) == 1, shown
    assert not [q for q in added if q.startswith("UPDATE tasks")], shown
    # The look-up under the locks and the task's INSERT: one statement.
    [task_insert] = [q for q in added if "INSERT INTO tasks" in q]
    assert task_insert.startswith("WITH twin AS"), shown
    assert "memory_views" in task_insert, shown
    # The messages in one pipelined statement, the memories with their history rows in another.
    assert len([q for q in added if q.startswith("INSERT INTO messages")]) == 1, shown
    [memories] = [q for q in added if "INSERT INTO memories" in q]
    assert "INSERT INTO memory_history" in memories
    assert len(added) == 8, shown
    # (A key's last-use write, left out above, may leave its BEGIN and COMMIT here.)
    [text] = [q for q in repeat if _first_word(q) not in ("BEGIN", "COMMIT")]
    assert text.startswith("SELECT projects.ttl_days"), repeat
