"""``memos-server export`` and ``memos-server import``: a project to a JSON Lines file and back
(``docs/export.md``).

``export`` reads the database only (no model loads): it runs on a short-lived connection and
writes each line as it is read. ``import`` loads the embedding model (records without usable
vectors are embedded with it) and writes the whole file in one transaction. Both draw a progress
bar on stderr when it is a terminal.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from memos_server.errors import BadRequest
from memos_server.progress_bar import records_progress
from memos_server.services.apikeys import choose_project, create_project
from memos_server.services.portability.export import Exporter, ExportScope
from memos_server.services.portability.format import read_header
from memos_server.services.portability.import_ import Importer
from memos_server.services.portability.steps import ImportResult

if TYPE_CHECKING:
    from memos_server.runtime import Runtime
    from memos_server.settings import Settings


async def export(settings: Settings, args: Any) -> None:
    from memos_server.cli.connection import short_lived_database

    bar = records_progress("export")
    async with short_lived_database(settings) as database:
        async with database.session() as session:
            project = await choose_project(session, args.project)
            await session.commit()
        scope = ExportScope(project, user_id=args.user, embeddings=args.embeddings)
        with _output(args.output) as out:
            async for line in Exporter(database, scope, bar).lines():
                out.write(line)
    if bar is not None:
        bar.close()


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[IO[bytes]]:
    if path is None or path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    # Written aside and renamed at the end: a file by that name is always a whole export.
    try:
        out = partial.open("wb")
    except OSError as error:
        raise BadRequest(f"cannot write {partial}: {error.strerror}") from None
    with out:
        yield out
    partial.replace(target)


def header_of(path: str) -> str:
    """The project name the file's header gives (checked before any model loads)."""
    with _input(path) as stream:
        return read_header(stream.readline()).project


@contextlib.contextmanager
def _input(path: str) -> Iterator[IO[bytes]]:
    try:
        stream = Path(path).open("rb")  # noqa: SIM115 (closed below; an error named first)
    except OSError as error:
        raise BadRequest(f"cannot read {path}: {error.strerror}") from None
    with stream:
        yield stream


async def _lines(stream: IO[bytes]) -> AsyncIterator[bytes]:
    for line in stream:
        yield line


async def import_(runtime: Runtime, args: Any, default_project: str) -> None:
    bar = records_progress("import")
    name = args.project or default_project
    async with runtime.database.session() as session:
        project, created = await create_project(session, name)
        importer = Importer(session, project, runtime.require_embedder(), bar)
        with _input(args.file) as stream:
            result = await importer.run(_lines(stream))
        await session.commit()
    if bar is not None:
        bar.close()
    if args.json:
        print(json.dumps(_answer(result, name, created), ensure_ascii=False))
        return
    made = " (created)" if created else ""
    print(f"imported into project {name!r}{made}:")
    for kind in result.added.keys() | result.skipped.keys():
        print(
            f"  {kind}: {result.added.get(kind, 0)} added, "
            f"{result.skipped.get(kind, 0)} already there"
        )
    model = runtime.require_embedder().name
    print(f"  {result.embedded} memories and passages embedded with {model}")


def _answer(result: ImportResult, project: str, created: bool) -> dict[str, Any]:
    return {
        "project": project,
        "created": created,
        "added": result.added,
        "skipped": result.skipped,
        "embedded": result.embedded,
        "message_base": result.message_base,
        "seconds": result.seconds,
    }
