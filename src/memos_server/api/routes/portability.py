"""Export and import over the admin API (``/admin/v1/projects/{name}/export|import``), behind
``MEMOS_ADMIN_KEY``: what ``memos-server export`` and ``memos-server import`` do, for an operator
moving a project between instances over HTTP (``docs/export.md``).

The export is streamed as it is read (its own read-only snapshot, not the request's session,
which ends when the route returns: before the first line is sent). The import reads the upload
as it arrives (``api.body_limit`` passes it on, counted against
``MEMOS_LIMITS__IMPORT_MAX_BYTES``) and writes it in the request's one transaction.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from memos_server.api.deps import RuntimeDep, SessionDep
from memos_server.api.responses import ADMIN_ERRORS, NOT_FOUND
from memos_server.api.routes.admin import require_admin
from memos_server.api.schemas.common import Envelope
from memos_server.api.schemas.input_rules import text_problem
from memos_server.api.schemas.portability import ImportAnswer
from memos_server.errors import BadRequest
from memos_server.services.apikeys import choose_project, create_project
from memos_server.services.portability.export import Exporter, ExportScope
from memos_server.services.portability.import_ import Importer

IMPORT_PATH = re.compile(r"/admin/v1/projects/[^/]+/import")
JSON_LINES = "application/x-ndjson"

router = APIRouter(
    prefix="/admin/v1/projects",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)

ProjectName = Annotated[str, Path(min_length=1, max_length=100, description="The project.")]


@router.get(
    "/{name}/export",
    responses={**NOT_FOUND, 200: {"content": {JSON_LINES: {}}, "description": "The export."}},
    response_class=StreamingResponse,
    summary="Export a project",
    operation_id="export_project",
)
async def get_export(
    name: ProjectName,
    runtime: RuntimeDep,
    user_id: Annotated[
        str | None, Query(min_length=1, max_length=256, description="Only this user's records.")
    ] = None,
    embeddings: Annotated[bool, Query(description="With the vectors.")] = False,
) -> StreamingResponse:
    """The project as JSON Lines (docs/export.md), streamed as it is read."""
    # Checked before the stream starts: an error once it has is a broken download, not an answer.
    _storable(name=name, user_id=user_id)
    async with runtime.database.session() as session:
        project = await choose_project(session, name)
    scope = ExportScope(project, user_id=user_id, embeddings=embeddings)
    lines = Exporter(runtime.database, scope).lines()
    filename = f"export-{project.id}.jsonl"
    return StreamingResponse(
        lines,
        media_type=JSON_LINES,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _storable(**values: str | None) -> None:
    """Refuse (400) a name Postgres cannot hold (a NUL, a lone surrogate)."""
    for field, value in values.items():
        problem = text_problem(value) if value is not None else None
        if problem is not None:
            raise BadRequest(f"{field} {problem}")


async def _lines(request: Request) -> AsyncIterator[bytes]:
    """The body's lines as they arrive (a line may span chunks)."""
    rest = b""
    async for chunk in request.stream():
        rest += chunk
        *whole, rest = rest.split(b"\n")
        for line in whole:
            yield line
    if rest:
        yield rest


@router.post(
    "/{name}/import",
    response_model=Envelope[ImportAnswer],
    summary="Import an export into a project",
    operation_id="import_project",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {JSON_LINES: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def post_import(
    name: ProjectName, request: Request, runtime: RuntimeDep, session: SessionDep
) -> Envelope[ImportAnswer]:
    """Read an export (JSON Lines, streamed) into the project (created if new), in one
    transaction; importing the same file again adds nothing."""
    _storable(name=name)
    embedder = runtime.require_embedder()
    project, created = await create_project(session, name)
    result = await Importer(session, project, embedder).run(_lines(request))
    return Envelope(
        data=ImportAnswer(
            project=name,
            created=created,
            added=result.added,
            skipped=result.skipped,
            embedded=result.embedded,
            message_base=result.message_base,
        )
    )
