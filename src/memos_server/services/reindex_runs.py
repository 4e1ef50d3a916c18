"""A reindex the admin API starts in this process, and what the admin API says of reindexes.

``start_run`` loads the new model and gives the reindex its own connections, which say they hold
that model (the swap writes its vectors). ``status_of`` reports this process's run, else what the
database says of one under way elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from memos_server.embedding import Embedder, load_embedder
from memos_server.errors import BadRequest
from memos_server.services.reindex import Phase, Reindexer, pending_target
from memos_server.settings import Settings
from memos_server.storage.database import Database

log = logging.getLogger(__name__)


@dataclass
class ReindexRun:
    """A reindex the admin API started in this process, with the new model it loaded."""

    reindexer: Reindexer
    embedder: Embedder
    database: Database
    task: asyncio.Task[None]

    async def close(self) -> None:
        if not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.embedder.aclose()
        await self.database.dispose()


@dataclass
class ReindexStatus:
    model: str | None
    phase: str  # idle | pending (elsewhere, or stopped) | embedding | swapping | done | failed
    done: int
    total: int
    embedded: int = 0
    here: bool = False
    error: str | None = None


async def start_run(
    settings: Settings, database: Database, model: str, finished: Callable[[str], None]
) -> ReindexRun:
    """Load ``model`` (same provider settings) and reindex to it in the background; ``finished``
    hears the new model's name once the swap is done. Loading the model takes a while."""
    embedding = settings.embedding.model_copy(update={"model": model})
    try:
        embedder = await load_embedder(embedding, settings.model_cache_dir)
    except Exception as error:
        log.warning("reindex: cannot load %r: %s", model, error)
        raise BadRequest(f"cannot load the embedding model {model!r}: {error}") from None
    url = database.engine.url.render_as_string(hide_password=False)
    own = Database(url, settings.database, embedding_model=embedder.name)
    reindexer = Reindexer(own, embedder)

    async def run() -> None:
        try:
            await reindexer.run()
        except Exception:
            log.exception("reindex to %s failed", embedder.name)
            return
        finished(embedder.name)

    return ReindexRun(reindexer, embedder, own, asyncio.create_task(run()))


async def status_of(run: ReindexRun | None, database: Database) -> ReindexStatus:
    """This process's reindex, else what the database says of one under way elsewhere."""
    if run is not None and (not run.task.done() or run.reindexer.progress.phase != Phase.DONE):
        progress = run.reindexer.progress
        return ReindexStatus(
            progress.model,
            str(progress.phase),
            progress.done,
            progress.total,
            progress.embedded,
            here=True,
            error=progress.error,
        )
    target, done, total = await pending_target(database)
    if target is not None:
        return ReindexStatus(target, "pending", done, total)
    if run is not None:
        progress = run.reindexer.progress
        return ReindexStatus(
            progress.model, "done", progress.done, progress.total, progress.embedded, True
        )
    return ReindexStatus(None, "idle", 0, 0)
