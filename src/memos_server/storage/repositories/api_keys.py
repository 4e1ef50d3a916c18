"""API keys, stored only as SHA-256 hashes with a visible prefix."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.models import ApiKey, Project

# Recording every use would turn each read request into a write; once a minute is enough to see
# which keys are alive.
LAST_USED_RESOLUTION = timedelta(minutes=1)
BOOTSTRAP_LOCK = 0x6D656D6F5F6B6579  # pg advisory lock key: one bootstrap-key check at a time


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, project_id: uuid.UUID, name: str, prefix: str, key_hash: str) -> ApiKey:
        key = ApiKey(
            id=uuid.uuid4(), project_id=project_id, name=name, prefix=prefix, key_hash=key_hash
        )
        self.session.add(key)
        await self.session.flush()
        return key

    async def find(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or not."""
        result = await self.session.execute(select(ApiKey).where(ApiKey.key_hash == key_hash))
        return result.scalar_one_or_none()

    async def mark_used(self, key_id: uuid.UUID) -> None:
        await self.session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                (ApiKey.last_used_at.is_(None))
                | (ApiKey.last_used_at < func.now() - LAST_USED_RESOLUTION),
            )
            .values(last_used_at=func.now())
        )

    async def lock_bootstrap(self) -> None:
        """Serialise the bootstrap-key check of processes starting together (until commit)."""
        await self.session.execute(select(func.pg_advisory_xact_lock(BOOTSTRAP_LOCK)))

    async def exists_any(self) -> bool:
        result = await self.session.execute(select(ApiKey.id).limit(1))
        return result.first() is not None

    async def list(self, project_name: str | None = None) -> list[tuple[ApiKey, str]]:
        query = select(ApiKey, Project.name).join(Project, Project.id == ApiKey.project_id)
        if project_name is not None:
            query = query.where(Project.name == project_name)
        result = await self.session.execute(query.order_by(ApiKey.created_at))
        return [(key, name) for key, name in result.all()]

    async def revoke(self, prefix: str, key_hash: str | None = None) -> int:
        """The active keys with this prefix (and, given, this digest: exactly one key)."""
        named = [ApiKey.prefix == prefix] + ([ApiKey.key_hash == key_hash] if key_hash else [])
        result = await self.session.execute(
            update(ApiKey).where(*named, ApiKey.revoked_at.is_(None)).values(revoked_at=func.now())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
