"""API keys: made random, shown once, kept only as a SHA-256 hash with a visible prefix."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.errors import (
    AdminApiOff,
    BadRequest,
    ConfigurationError,
    InvalidApiKey,
    NotFound,
    RequiredFieldEmpty,
    TooLong,
    Unauthenticated,
)
from memos_server.storage.models import ApiKey, Project
from memos_server.storage.repositories.api_keys import LAST_USED_RESOLUTION, ApiKeyRepository
from memos_server.storage.repositories.projects import ProjectRepository

KEY_PREFIX = "mk-"
VISIBLE_CHARS = 10
# A chosen key (MEMOS_API_KEY) keeps its first VISIBLE_CHARS readable as its prefix; with this
# many characters at least 14 stay secret.
MIN_CHOSEN_KEY_CHARS = 24


@dataclass(frozen=True)
class NewKey:
    secret: str  # the only time the whole key exists outside the client
    prefix: str
    project: str


def utcnow() -> datetime:
    return datetime.now(UTC)


def hash_key(secret: str) -> str:
    # Keys carry 256 random bits, so a fast hash is as safe as a slow one and costs nothing per
    # request. The lookup is by hash, so a timing difference reveals nothing about the key.
    return hashlib.sha256(secret.encode()).hexdigest()


def visible_prefix(secret: str) -> str:
    return secret[:VISIBLE_CHARS]


async def create_key(session: AsyncSession, project: str, name: str = "") -> NewKey:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    return await store_key(session, project, secret, name)


async def store_key(session: AsyncSession, project: str, secret: str, name: str = "") -> NewKey:
    check_key_name(name)
    projects = ProjectRepository(session)
    found = await projects.get_by_name(project)
    if found is None:
        check_project_name(project)
        found = await projects.get_or_create(project)
    prefix = visible_prefix(secret)
    await ApiKeyRepository(session).add(found.id, name, prefix, hash_key(secret))
    return NewKey(secret=secret, prefix=prefix, project=project)


class Bootstrap(StrEnum):
    """What start-up did about the bootstrap key."""

    MADE = "made"  # no key and none configured: a new one, to be shown once
    STORED = "stored"  # no key: the configured one stored
    KNOWN = "known"  # keys exist; the configured one is among them
    NOT_USED = "not used"  # keys exist; the configured one is not among them and is not added
    NONE = "none"  # keys exist and none is configured


def check_chosen_key(secret: str, setting: str = "MEMOS_API_KEY") -> None:
    """A key a person chose: long enough that what its visible prefix does not show is still hard
    to guess, and sendable in an ``Authorization`` header (visible ASCII, no spaces)."""
    if len(secret) < MIN_CHOSEN_KEY_CHARS:
        raise ConfigurationError(
            f"{setting} is {len(secret)} characters; a key needs at least {MIN_CHOSEN_KEY_CHARS} "
            "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if not all("!" <= char <= "~" for char in secret):
        raise ConfigurationError(
            f"{setting} may hold only visible ASCII characters (no spaces): "
            "it is sent in an HTTP header"
        )


async def ensure_bootstrap_key(
    session: AsyncSession, project: str, configured: str | None
) -> tuple[Bootstrap, NewKey | None]:
    """Only a database with no key at all gets one: the configured key, or a new one. A key
    configured later is never added (a stray ``MEMOS_API_KEY`` in a shell would otherwise become
    a permanent key); more keys come from ``apikey create`` or the admin API."""
    if configured is not None:
        check_chosen_key(configured)
    keys = ApiKeyRepository(session)
    # Processes starting together on an empty database: one makes the key, the others see it.
    await keys.lock_bootstrap()
    if await keys.exists_any():
        if configured is None:
            return Bootstrap.NONE, None
        known = await keys.find(hash_key(configured)) is not None
        return (Bootstrap.KNOWN if known else Bootstrap.NOT_USED), None
    if configured is not None:
        return Bootstrap.STORED, await store_key(session, project, configured, "bootstrap")
    return Bootstrap.MADE, await create_key(session, project, "bootstrap")


@dataclass(frozen=True)
class Caller:
    project_id: uuid.UUID
    key_id: uuid.UUID


async def authenticate(session: AsyncSession, secret: str | None) -> Caller:
    """The project the key belongs to. Checked against the database on every request, so a
    revoked key stops working at once; its last-use time is written at most once a minute."""
    if not secret:
        raise Unauthenticated()
    keys = ApiKeyRepository(session)
    digest = hash_key(secret)
    key = await keys.find(digest)
    # The lookup is by digest, so its timing says nothing about any stored key; the final
    # comparison is constant-time all the same.
    if key is None or not hmac.compare_digest(key.key_hash, digest) or key.revoked_at is not None:
        raise InvalidApiKey()
    if key.last_used_at is None or key.last_used_at < utcnow() - LAST_USED_RESOLUTION:
        await keys.mark_used(key.id)
    return Caller(key.project_id, key.id)


def check_admin(configured: str | None, secret: str | None) -> None:
    """The admin API's gate: off without a configured admin key, else the exact key."""
    if not configured:
        raise AdminApiOff()
    if not secret:
        raise Unauthenticated("admin key required: send 'Authorization: Token <admin key>'")
    # Digests of equal length, compared in constant time: nothing about the key leaks.
    if not hmac.compare_digest(hash_key(secret), hash_key(configured)):
        raise InvalidApiKey("not the admin key")


MAX_NAME_CHARS = 100


def check_project_name(name: str) -> None:
    """A new project's name, the same rules for the CLI and the admin API: not blank, at most
    100 characters, no '/' (the admin API's paths name a project: /projects/{name}/export)."""
    if not name.strip():
        raise RequiredFieldEmpty("a project name must not be empty or blank")
    if len(name) > MAX_NAME_CHARS:
        raise TooLong(f"a project name is at most {MAX_NAME_CHARS} characters")
    if "/" in name:
        raise BadRequest(f"a project name may not hold '/': {name!r}")


def check_key_name(name: str) -> None:
    if len(name) > MAX_NAME_CHARS:
        raise TooLong(f"a key's name is at most {MAX_NAME_CHARS} characters")


async def create_project(session: AsyncSession, name: str) -> tuple[Project, bool]:
    """The project with this name, and whether this call made it."""
    projects = ProjectRepository(session)
    existing = await projects.get_by_name(name)
    if existing is not None:
        return existing, False
    check_project_name(name)
    return await projects.get_or_create(name), True


async def list_projects(session: AsyncSession) -> list[tuple[Project, int]]:
    """Every project with its number of active keys."""
    return await ProjectRepository(session).list_with_key_counts()


async def choose_project(session: AsyncSession, name: str | None) -> Project:
    """The project named ``name``; unnamed, the only project there is (else an error that lists
    them, so the caller can pick one)."""
    projects = ProjectRepository(session)
    if name is not None:
        project = await projects.get_by_name(name)
        if project is None:
            raise NotFound(f"no project named {name!r}{_listing(await projects.list_names())}")
        return project
    names = await projects.list_names()
    if len(names) != 1:
        raise NotFound(
            "no projects yet (make one with `memos-server project create NAME`)"
            if not names
            else f"several projects: choose one with --project{_listing(names)}"
        )
    project = await projects.get_by_name(names[0])
    assert project is not None
    return project


def _listing(names: list[str]) -> str:
    return f" (projects: {', '.join(names)})" if names else ""


async def list_keys(session: AsyncSession, project: str | None) -> list[tuple[ApiKey, str]]:
    """Keys (never their secrets) with their project's name, oldest first."""
    if project is not None and await ProjectRepository(session).get_by_name(project) is None:
        raise NotFound(f"no project named {project!r}")
    return await ApiKeyRepository(session).list(project)


async def revoke_key(session: AsyncSession, prefix: str) -> int:
    """Revoke the active key(s) with this prefix, or the one key given whole; the next request
    with one fails."""
    if len(prefix) > VISIBLE_CHARS:  # the whole key: exactly that one, never named back
        count = await ApiKeyRepository(session).revoke(visible_prefix(prefix), hash_key(prefix))
        if count == 0:
            raise NotFound(f"no active key {visible_prefix(prefix)}… matches the key given")
        return count
    count = await ApiKeyRepository(session).revoke(prefix)
    if count == 0:
        raise NotFound(f"no active key with prefix {prefix!r}")
    return count
