"""The async engine and session factory for one Postgres."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from memos_server.errors import ConfigurationError
from memos_server.settings import DatabaseSettings


def async_url(url: str) -> str:
    """``postgresql://`` (as users write it) → the asyncpg dialect SQLAlchemy needs."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigurationError(f"database URL is not a valid URL: {exc}") from None
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ConfigurationError("database URL must be a postgresql:// URL")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


class Database:
    def __init__(self, url: str, settings: DatabaseSettings) -> None:
        self.engine: AsyncEngine = create_async_engine(
            async_url(url),
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            pool_pre_ping=True,
            echo=settings.echo,
            # A database error's text (logged with its traceback) would otherwise quote the
            # statement's parameters: messages, queries, memories.
            hide_parameters=not settings.echo,
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    async def dispose(self) -> None:
        await self.engine.dispose()
