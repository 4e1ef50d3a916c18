"""CPU of search's last statement, the final rows (``MemorySearch.found``), in this process.

    .venv/bin/python -m bench.found_step --data-dir .bench-data --rows 40 --repeat 300

On a database loaded by ``bench/load.py`` (its embedded Postgres in ``--data-dir``, started
here; the service must not be running on it): the ids of ``--rows`` memories of one user, read
``--repeat`` times on one session as a search reads them (with the messages' numbers), without
and with the vectors the recency step compares (a Chinese query's). Prints this process's CPU
(the driver's decoding and the objects built) per call; Postgres's is not in it. Run it on two
checkouts to compare them.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from bench.floor import environment


async def measure(data_dir: Path, rows: int, repeat: int) -> dict[str, float]:
    from memos_server.settings import Settings
    from memos_server.storage.database import Database
    from memos_server.storage.embedded import EmbeddedPostgres
    from memos_server.storage.repositories.memory_search import MemorySearch

    with environment({"MEMOS_DATA_DIR": str(data_dir)}):
        settings = Settings()
    embedded = EmbeddedPostgres(data_dir)
    url = await asyncio.to_thread(embedded.start)
    database = Database(url, settings.database)
    figures: dict[str, float] = {}
    try:
        async with database.session() as session:
            user = (await session.execute(text("SELECT min(user_id) FROM memories"))).scalar_one()
            found = await session.execute(
                text("SELECT id FROM memories WHERE user_id = :user LIMIT :rows"),
                {"user": user, "rows": rows},
            )
            ids: list[uuid.UUID] = list(found.scalars())
        for vectors in (False, True, False, True):
            async with database.session() as session:
                repository = MemorySearch(session)
                for _ in range(repeat // 10):  # warm: the statement cache, the rows
                    await repository.found(ids, vectors=vectors, numbers=True)
                started = time.process_time()
                for _ in range(repeat):
                    await repository.found(ids, vectors=vectors, numbers=True)
                spent = (time.process_time() - started) * 1000 / repeat
            name = "with vectors" if vectors else "without vectors"
            figures[name] = min(figures.get(name, spent), spent)
        figures["rows"] = len(ids)
    finally:
        await database.dispose()
        await asyncio.to_thread(embedded.stop)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=300)
    arguments = parser.parse_args()
    figures = asyncio.run(measure(arguments.data_dir, arguments.rows, arguments.repeat))
    rows = int(figures.pop("rows"))
    for name, value in figures.items():
        print(f"found(), {rows} rows, {name}: {value:.2f} ms CPU per call (best of 2 passes)")


if __name__ == "__main__":
    main()
