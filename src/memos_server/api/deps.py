"""What a route can ask for: the runtime's parts, a database session (the request's one
transaction, ``api.transaction``), the caller's project, and the request services the runtime
built once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.api.transaction import ReadSessions, read_sessions, request_session
from memos_server.embedding import Embedder
from memos_server.embedding.base import estimate_tokens
from memos_server.errors import InvalidApiKey
from memos_server.metrics import count_key_check
from memos_server.runtime import Runtime
from memos_server.services.apikeys import authenticate
from memos_server.services.chat import ChatService
from memos_server.services.failed_keys import client_of
from memos_server.services.feedback_intake import FeedbackIntake
from memos_server.services.ingest import MessageIntake
from memos_server.services.knowledge.bases import KnowledgeService
from memos_server.services.memory_admin import MemoryAdmin
from memos_server.services.profiles.instances import ProfileService
from memos_server.services.profiles.templates import TemplateService
from memos_server.services.search.service import SearchService
from memos_server.settings import Settings


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


# The dependencies are ``async def`` though none waits: FastAPI runs a plain ``def`` one in its
# thread pool, a thread hop (and a GIL handover) per dependency per request.
async def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


async def get_embedder(runtime: RuntimeDep) -> Embedder:
    return runtime.require_embedder()


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """The request's one transaction (see ``api.transaction``): committed when the route returns,
    before its answer is sent; rolled back when it raises."""
    async with request_session(runtime.database) as session:
        yield session


async def get_reads(runtime: RuntimeDep) -> AsyncIterator[ReadSessions]:
    """Sessions for a request that only reads: on a read replica when the router allows."""
    async with read_sessions(runtime.reads) as reads:
        yield reads


SettingsDep = Annotated[Settings, Depends(get_settings)]
# Scope "function": its sessions go back to their pools once the route returns, not after the
# answer has been sent.
ReadsDep = Annotated[ReadSessions, Depends(get_reads, scope="function")]
EmbedderDep = Annotated[Embedder, Depends(get_embedder)]


# The request services, built once with the runtime. Those that embed ask for the embedding
# model first, as the routes always did: it refuses (503) once a reindex retired it.
async def get_message_intake(runtime: RuntimeDep, _: EmbedderDep) -> MessageIntake:
    return runtime.services.messages


async def get_feedback_intake(runtime: RuntimeDep, _: EmbedderDep) -> FeedbackIntake:
    return runtime.services.feedback


async def get_search(runtime: RuntimeDep, _: EmbedderDep) -> SearchService:
    return runtime.services.search


async def get_chat(runtime: RuntimeDep, _: EmbedderDep) -> ChatService:
    return runtime.services.chat


async def get_knowledge(runtime: RuntimeDep) -> KnowledgeService:
    return runtime.services.knowledge


async def get_memory_admin(runtime: RuntimeDep) -> MemoryAdmin:
    return runtime.services.memories


async def get_templates(runtime: RuntimeDep) -> TemplateService:
    return runtime.services.profile_templates


async def get_profiles(runtime: RuntimeDep) -> ProfileService:
    return runtime.services.profiles


async def get_memory_editor(runtime: RuntimeDep, _: EmbedderDep) -> MemoryAdmin:
    """The memory admin for a change that may re-embed a text (update/memory)."""
    return runtime.services.memories


MessageIntakeDep = Annotated[MessageIntake, Depends(get_message_intake)]
FeedbackIntakeDep = Annotated[FeedbackIntake, Depends(get_feedback_intake)]
SearchDep = Annotated[SearchService, Depends(get_search)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
KnowledgeDep = Annotated[KnowledgeService, Depends(get_knowledge)]
MemoryAdminDep = Annotated[MemoryAdmin, Depends(get_memory_admin)]
MemoryEditorDep = Annotated[MemoryAdmin, Depends(get_memory_editor)]
TemplatesDep = Annotated[TemplateService, Depends(get_templates)]
ProfilesDep = Annotated[ProfileService, Depends(get_profiles)]
# Scope "function": FastAPI leaves the dependency (so commits) once the route has returned and
# before it sends the response; the default scope would commit after the answer was sent.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


# Declared as a security scheme so OpenAPI shows how to authenticate; read and checked below.
_AUTHORIZATION = APIKeyHeader(
    name="Authorization",
    scheme_name="Token",
    description="`Token <api key>` (`Bearer <api key>` works too).",
    auto_error=False,
)
Authorization = Annotated[str | None, Security(_AUTHORIZATION)]


def bearer_token(header: str | None) -> str | None:
    """The key in ``Token <key>`` or ``Bearer <key>``."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    return None


@contextmanager
def key_attempt(runtime: Runtime, request: Request) -> Iterator[None]:
    """A key is checked in here: refused unchecked if its client has sent too many wrong keys
    (429), and a wrong one counted against the client (see ``services.failed_keys``)."""
    throttle = runtime.failed_keys
    if throttle is None:
        yield
        return
    client = client_of(request.client.host if request.client else None)
    throttle.check(client)
    try:
        yield
    except InvalidApiKey:
        throttle.failed(client)
        raise


async def get_project(
    request: Request, runtime: RuntimeDep, authorization: Authorization
) -> uuid.UUID:
    """The project of the key in ``Authorization: Token <key>`` (``Bearer`` works too); each
    call spends one request of the key's rate limit, and a wrong key counts against its client.

    A key checked lately is known without a round trip (``services.key_cache``); otherwise
    it is looked up on a session of its own in autocommit (one statement, no BEGIN and COMMIT;
    the key's last-use time, when written, is stored at once), not the route's: a request that
    only reads takes no connection of the primary for its key."""
    secret = bearer_token(authorization)
    with key_attempt(runtime, request):
        caller = runtime.keys.get(secret) if secret else None
        if caller is None:
            generation = runtime.keys.generation
            async with runtime.database.autocommit_session() as session:
                caller = await authenticate(session, secret)
            assert secret is not None  # authenticate refuses a missing key
            runtime.keys.keep(secret, caller, generation)
            count_key_check("looked_up")
        else:
            count_key_check("kept")
    if runtime.rate_limiter is not None:
        runtime.rate_limiter.take(caller.key_id)
    request.state.key_id = caller.key_id  # for the input-token budget (``spend_input``)
    return caller.project_id


ProjectDep = Annotated[uuid.UUID, Depends(get_project)]


def spend_input(request: Request, runtime: Runtime, texts: Iterable[str]) -> None:
    """Count the text a request sends against its key's input tokens a minute (40309 when
    spent); after ``get_project``, which names the key."""
    if runtime.input_tokens is not None:
        tokens = sum(estimate_tokens(text) for text in texts)
        runtime.input_tokens.take(request.state.key_id, tokens)


async def get_idempotency_key(
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=200,
            description=(
                "Makes the request safe to repeat: a repeat answers the first one's task. Scoped "
                "to the project and the endpoint; sent again with a different request, it is "
                "refused (422). Empty or blank: no key."
            ),
        ),
    ] = None,
) -> str | None:
    """The add's ``Idempotency-Key``; an empty or blank header is no key (it names nothing)."""
    key = (idempotency_key or "").strip()
    return key or None


# Makes an add (add/message, add/feedback) safe to repeat.
IdempotencyKey = Annotated[str | None, Depends(get_idempotency_key)]
