"""The admin API (``/admin/v1``): projects (their memory TTL too) and their API keys, and
re-embedding the memories with another model, behind ``MEMOS_ADMIN_KEY``.

The same operations as ``memos-server project``, ``memos-server apikey`` and ``memos-server
reindex``, for operators who manage a running service over HTTP. Project keys never open it;
without an admin key set it answers 403.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from memos_server.api.deps import (
    Authorization,
    RuntimeDep,
    SessionDep,
    bearer_token,
    key_attempt,
)
from memos_server.api.responses import ADMIN_ERRORS, NOT_FOUND
from memos_server.api.schemas.admin import (
    CreateKeyRequest,
    CreateProjectRequest,
    KeyInfo,
    NewKeyData,
    ProjectInfo,
    ProjectTtlRequest,
    ReindexRequest,
    ReindexStatus,
    RevokeKeyData,
    RevokeKeyRequest,
)
from memos_server.api.schemas.common import Envelope
from memos_server.api.schemas.forget import DeletionInfo, FindDeletionsRequest
from memos_server.api.transaction import commit_now
from memos_server.services.apikeys import (
    check_admin,
    create_key,
    create_project,
    list_keys,
    list_projects,
    revoke_key,
)
from memos_server.services.forget import find_deletions
from memos_server.services.retention import set_project_ttl


async def require_admin(
    request: Request, runtime: RuntimeDep, authorization: Authorization
) -> None:
    # Async, so the check and the count of a wrong key happen in one step of the event loop:
    # guesses sent at once cannot all pass the throttle before the first is counted.
    settings = runtime.settings
    configured = settings.admin_key.get_secret_value() if settings.admin_key else None
    with key_attempt(runtime, request):
        check_admin(configured, bearer_token(authorization))


router = APIRouter(
    prefix="/admin/v1",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)


@router.get(
    "/projects",
    response_model=Envelope[list[ProjectInfo]],
    summary="List projects",
    operation_id="list_projects",
)
async def get_projects(session: SessionDep) -> Envelope[list[ProjectInfo]]:
    """Every project with its number of active keys."""
    rows = await list_projects(session)
    return Envelope(
        data=[
            ProjectInfo(
                id=str(p.id),
                name=p.name,
                created_at=p.created_at,
                active_keys=keys,
                ttl_days=p.ttl_days,
            )
            for p, keys in rows
        ]
    )


@router.post(
    "/projects",
    response_model=Envelope[ProjectInfo],
    summary="Create a project",
    operation_id="create_project",
)
async def post_project(body: CreateProjectRequest, session: SessionDep) -> Envelope[ProjectInfo]:
    """Create a project (answers the existing one, ``created: false``, if the name is taken)."""
    project, created = await create_project(session, body.name)
    return Envelope(
        data=ProjectInfo(
            id=str(project.id), name=project.name, created_at=project.created_at, created=created
        )
    )


@router.post(
    "/projects/ttl",
    response_model=Envelope[ProjectInfo],
    responses=NOT_FOUND,
    summary="Set a project's memory TTL",
    operation_id="set_project_ttl",
)
async def post_project_ttl(
    body: ProjectTtlRequest, runtime: RuntimeDep, session: SessionDep
) -> Envelope[ProjectInfo]:
    """How many days a memory made by an add to the project lives from now on (0: forever;
    null: the service's default); an add's own info.expires_at or info.ttl_seconds wins."""
    project = await set_project_ttl(
        session, runtime.settings.retention, body.project, body.ttl_days
    )
    return Envelope(
        data=ProjectInfo(
            id=str(project.id),
            name=project.name,
            created_at=project.created_at,
            ttl_days=project.ttl_days,
        )
    )


@router.get(
    "/keys",
    response_model=Envelope[list[KeyInfo]],
    responses=NOT_FOUND,
    summary="List API keys",
    operation_id="list_keys",
)
async def get_keys(
    session: SessionDep,
    project: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Only this project's keys.")
    ] = None,
) -> Envelope[list[KeyInfo]]:
    """Keys by prefix, with their last use: never the keys themselves."""
    rows = await list_keys(session, project)
    return Envelope(
        data=[
            KeyInfo(
                prefix=key.prefix,
                project=project_name,
                name=key.name,
                created_at=key.created_at,
                last_used_at=key.last_used_at,
                revoked_at=key.revoked_at,
            )
            for key, project_name in rows
        ]
    )


@router.post(
    "/keys",
    response_model=Envelope[NewKeyData],
    summary="Create an API key",
    operation_id="create_key",
)
async def post_key(body: CreateKeyRequest, session: SessionDep) -> Envelope[NewKeyData]:
    """Make a key for a project (created if new); the answer is the only time it is shown."""
    key = await create_key(session, body.project, body.name)
    return Envelope(data=NewKeyData(key=key.secret, prefix=key.prefix, project=key.project))


@router.post(
    "/keys/revoke",
    response_model=Envelope[RevokeKeyData],
    responses=NOT_FOUND,
    summary="Revoke an API key",
    operation_id="revoke_key",
)
async def post_revoke(
    body: RevokeKeyRequest, session: SessionDep, runtime: RuntimeDep
) -> Envelope[RevokeKeyData]:
    """Revoke a key by its prefix: its very next request fails with 40132."""
    count = await revoke_key(session, body.prefix)
    await commit_now(session)
    # This process forgets the keys it kept now, before answering: the notification the commit
    # sent comes back through its listener a moment later, and a request the client sends as
    # soon as it has this answer may be read first.
    runtime.keys.changed()
    return Envelope(data=RevokeKeyData(revoked=count))


@router.get(
    "/reindex",
    response_model=Envelope[ReindexStatus],
    summary="Reindex progress",
    operation_id="get_reindex",
)
async def get_reindex(runtime: RuntimeDep) -> Envelope[ReindexStatus]:
    """Where a reindex stands: this process's, or one under way elsewhere (from the database)."""
    return Envelope(data=ReindexStatus(**asdict(await runtime.reindex_status())))


@router.post(
    "/reindex",
    response_model=Envelope[ReindexStatus],
    summary="Start a reindex",
    operation_id="start_reindex",
)
async def post_reindex(body: ReindexRequest, runtime: RuntimeDep) -> Envelope[ReindexStatus]:
    """Re-embed every memory with ``model`` in the background (this process loads it), then
    bind the database to it; answers the progress. Already running here: its progress. Once it
    is done, this service answers 503 until restarted with the new model."""
    await runtime.start_reindex(body.model)
    return Envelope(data=ReindexStatus(**asdict(await runtime.reindex_status())))


@router.post(
    "/deletions",
    response_model=Envelope[list[DeletionInfo]],
    responses=NOT_FOUND,
    summary="Find a user's recorded deletions",
    operation_id="find_deletions",
)
async def post_deletions(
    body: FindDeletionsRequest, session: SessionDep
) -> Envelope[list[DeletionInfo]]:
    """Whether (and when) delete/user or delete/message forgot this user (or conversation), or
    the retention sweep purged their expired memories: the records hold no ids, only a keyed
    digest, recomputed here from the ids given.

    A POST, so the user id travels in the body, never in a URL that access logs keep.
    """
    rows = await find_deletions(session, body.project, body.user_id, body.conversation_id)
    return Envelope(
        data=[
            DeletionInfo(
                deletion_id=row.id,
                scope=row.scope,
                subject=row.subject,
                created_at=row.created_at,
                deleted=row.counts,
            )
            for row in rows
        ]
    )
