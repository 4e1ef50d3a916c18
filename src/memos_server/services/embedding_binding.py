"""Tie a database to one embedding model, so vectors of two models never mix."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.embedding import Embedder
from memos_server.errors import ConfigurationError
from memos_server.storage.repositories.meta import MetaRepository

MODEL_KEY = "embedding_model"
DIMENSION_KEY = "embedding_dimension"


async def bind_embedding_model(session: AsyncSession, embedder: Embedder) -> None:
    """First start: record the model and fix the vector size. Later: refuse a different model."""
    meta = MetaRepository(session)
    stored_dimension = await meta.get(DIMENSION_KEY)
    if stored_dimension is None:
        await meta.fix_embedding_dimension(embedder.dimension)
        stored_dimension = await meta.set_if_absent(DIMENSION_KEY, str(embedder.dimension))
    stored_model = await meta.set_if_absent(MODEL_KEY, embedder.name)
    if int(stored_dimension) != embedder.dimension:
        raise ConfigurationError(
            f"this database holds {stored_dimension}-dimensional embeddings from "
            f"{stored_model!r}, but the configured model {embedder.name!r} makes "
            f"{embedder.dimension}-dimensional ones. Configure the original model again, "
            "or point MEMOS_DATABASE__URL / MEMOS_DATA_DIR at a new database."
        )
    if stored_model != embedder.name:
        raise ConfigurationError(
            f"this database holds embeddings from {stored_model!r}, but the configured model "
            f"is {embedder.name!r}; vectors of two models cannot be compared. Configure the "
            "original model again, or use a new database."
        )
