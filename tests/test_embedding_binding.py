"""A database keeps the embedding model it was made with; another model is a start-up error."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from memos_server.errors import ConfigurationError
from memos_server.services.embedding_binding import bind_embedding_model
from memos_server.settings import DatabaseSettings
from memos_server.storage.database import Database
from tests.support.service import ServiceThread


@dataclass
class Model:
    """Only what the binding reads of a model: its identity and vector size."""

    name: str
    dimension: int


def bind(pg_url: str, model: Model) -> None:
    async def run() -> None:
        database = Database(pg_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                await bind_embedding_model(session, model)  # type: ignore[arg-type]
        finally:
            await database.dispose()

    asyncio.run(run())


def test_the_same_model_binds_again(service: ServiceThread, pg_url: str) -> None:
    embedder = service.runtime.require_embedder()
    bind(pg_url, Model(embedder.name, embedder.dimension))


def test_another_dimension_is_refused_with_a_clear_message(
    service: ServiceThread, pg_url: str
) -> None:
    with pytest.raises(ConfigurationError, match=r"384 dimensions.*768 dimensions"):
        bind(pg_url, Model("local:bge-base", 768))


def test_another_model_of_the_same_size_is_refused(service: ServiceThread, pg_url: str) -> None:
    with pytest.raises(ConfigurationError, match="cannot be compared"):
        bind(pg_url, Model("openai:text-embedding-3-small", 384))


def test_postgres_itself_refuses_a_vector_of_the_wrong_size(
    service: ServiceThread, pg_url: str
) -> None:
    async def insert() -> None:
        database = Database(pg_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                project = await session.execute(text("SELECT id FROM projects LIMIT 1"))
                await session.execute(
                    text(
                        "INSERT INTO memories (project_id, user_id, kind, mode, memory_key,"
                        " memory_value, memory_type, embedding)"
                        " VALUES (:p, 'u', 'fact', 'fast', 'k', 'v', 'UserMemory', '[1,2,3]')"
                    ),
                    {"p": project.scalar_one()},
                )
        finally:
            await database.dispose()

    with pytest.raises(IntegrityError, match="ck_memories_embedding_dim"):
        asyncio.run(insert())
