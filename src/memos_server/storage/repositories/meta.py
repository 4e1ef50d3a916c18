"""Facts about the database itself (``service_meta``), such as the embedding model in use."""

from __future__ import annotations

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.storage.models import ServiceMeta


class MetaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str) -> str | None:
        result = await self.session.execute(select(ServiceMeta.value).where(ServiceMeta.key == key))
        return result.scalar_one_or_none()

    async def set_if_absent(self, key: str, value: str) -> str:
        """Store ``value`` unless the key has one; return the value now stored."""
        await self.session.execute(
            insert(ServiceMeta).values(key=key, value=value).on_conflict_do_nothing()
        )
        stored = await self.get(key)
        assert stored is not None
        return stored

    async def put(self, key: str, value: str) -> None:
        await self.session.execute(
            insert(ServiceMeta)
            .values(key=key, value=value)
            .on_conflict_do_update(index_elements=[ServiceMeta.key], set_={"value": value})
        )

    async def remove(self, *keys: str) -> None:
        await self.session.execute(delete(ServiceMeta).where(ServiceMeta.key.in_(keys)))

    async def fix_embedding_dimension(self, dimension: int) -> None:
        """Make Postgres refuse any vector of another size from now on."""
        await self.session.execute(
            text("ALTER TABLE memories DROP CONSTRAINT IF EXISTS ck_memories_embedding_dim")
        )
        await self.session.execute(
            text(
                "ALTER TABLE memories ADD CONSTRAINT ck_memories_embedding_dim "
                f"CHECK (vector_dims(embedding) = {int(dimension)})"
            )
        )
