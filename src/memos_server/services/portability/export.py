"""``memos-server export`` and ``GET /admin/v1/projects/{name}/export``: a project as JSON Lines.

The lines are produced as they are read: one snapshot of the database (a repeatable-read
transaction, so a file never holds a memory without the task it names), each kind read through
a server-side cursor ``PAGE`` records at a fetch, each fetch written out before the next.
Memory use does not grow with the project. Postgres writes each record's JSON
(``repositories/export_lines``); this module orders the kinds, pages through them and writes the
header. Messages are named by their
number in the project (their ``message_id``), never by the service's own global ids, so a
memory's sources and a history row's stay meaningful elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from memos_server.services.embedding_binding import DIMENSION_KEY, MODEL_KEY
from memos_server.services.portability.format import FORMAT, ORDER, VERSION, dump
from memos_server.storage.database import Database
from memos_server.storage.models import (
    Project,
)
from memos_server.storage.repositories.export_lines import ExportLines, of_users
from memos_server.storage.repositories.meta import MetaRepository
from memos_server.storage.repositories.portability import ExportRepository
from memos_server.text.tokens import words_version

PAGE = 2000

# (done, total) records of a kind, after each page.
OnProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ExportScope:
    project: Project
    user_id: str | None = None  # only this user's records (then no knowledge bases)
    embeddings: bool = False  # memories and passages with their vectors


def _json(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # UUIDs


class Exporter:
    """One export of one project (or one user of it), read from ``database``."""

    def __init__(
        self, database: Database, scope: ExportScope, on_progress: OnProgress | None = None
    ) -> None:
        self.database = database
        self.scope = scope
        self.on_progress = on_progress
        self.counts: dict[str, int] = {}

    def _report(self, kind: str, done: int) -> None:
        if self.on_progress is not None:
            self.on_progress(kind, done, self.counts.get(kind, 0))

    async def lines(self) -> AsyncIterator[bytes]:
        """The file, line by line: the header, then every record in the format's order."""
        async with self.database.session() as session:
            await ExportRepository(session).snapshot()
            yield await self._header(session, ExportRepository(session))
            pages = ExportLines(session)
            project_id, user = self.scope.project.id, self.scope.user_id
            for kind in ORDER:
                if user is not None and not of_users(kind):
                    continue
                done = 0
                async for lines in pages.pages(kind, project_id, user, PAGE, self.scope.embeddings):
                    yield "\n".join(lines).encode() + b"\n"
                    done += len(lines)
                    self._report(kind, done)

    async def _header(self, session: Any, read: ExportRepository) -> bytes:
        project, user = self.scope.project, self.scope.user_id
        meta = MetaRepository(session)
        dimension = await meta.get(DIMENSION_KEY)
        lines = ExportLines(session)
        counts = {
            kind: await lines.count(kind, project.id, user)
            for kind in ORDER
            if kind != "history" and (user is None or of_users(kind))
        }
        if user is None:
            counts["history"] = await read.deleted_history_count(project.id)
        counts = {kind: counts[kind] for kind in ORDER if kind in counts}
        self.counts = counts
        last = await session.get(Project, project.id)
        header = {
            "type": "header",
            "format": FORMAT,
            "version": VERSION,
            "exported_at": datetime.now(UTC),
            "project_id": project.id,
            "project": project.name,
            "user_id": user,
            "embeddings": self.scope.embeddings,
            "model": await meta.get(MODEL_KEY),
            "dimension": int(dimension) if dimension else None,
            "message_seq": last.message_seq if last is not None else 0,
            "counts": counts,
            "words": words_version(),
        }
        return dump(header, None, default=_json)
