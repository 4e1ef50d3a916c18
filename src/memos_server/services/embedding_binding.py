"""Tie a database to one embedding model, so vectors of two models never mix.

Changing the model is ``memos-server reindex`` (``services/reindex.py``); a start with another
model than the bound one refuses with what to run, and how many memories it would re-embed.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.embedding import Embedder
from memos_server.errors import ConfigurationError
from memos_server.storage.repositories.meta import MetaRepository
from memos_server.storage.repositories.reindex import ReindexRepository

MODEL_KEY = "embedding_model"
DIMENSION_KEY = "embedding_dimension"
TARGET_KEY = "reindex_model"  # the model a reindex under way re-embeds with


def model_setting(name: str) -> str:
    """How a model's name (``local:x``, ``openai:x``) is configured again."""
    provider, _, model = name.partition(":")
    if provider == "openai":
        return f"MEMOS_EMBEDDING__PROVIDER=openai MEMOS_EMBEDDING__MODEL={model}"
    return f"MEMOS_EMBEDDING__MODEL={model or name}"


async def bind_embedding_model(session: AsyncSession, embedder: Embedder) -> None:
    """First start: record the model and fix the vector size. Later: refuse a different model,
    saying what to do about it."""
    meta = MetaRepository(session)
    stored_dimension = await meta.get(DIMENSION_KEY)
    if stored_dimension is None:
        await meta.fix_embedding_dimension(embedder.dimension)
        stored_dimension = await meta.set_if_absent(DIMENSION_KEY, str(embedder.dimension))
    stored_model = await meta.set_if_absent(MODEL_KEY, embedder.name)
    if stored_model == embedder.name and int(stored_dimension) == embedder.dimension:
        return
    done, total = await ReindexRepository(session).counts()
    under_way = ""
    if await meta.get(TARGET_KEY) == embedder.name:
        under_way = f" ({done} of them already re-embedded by an earlier reindex)"
    raise ConfigurationError(
        f"this database's memories were embedded by {stored_model} "
        f"({stored_dimension} dimensions); the configured model is {embedder.name} "
        f"({embedder.dimension} dimensions), and vectors of two models cannot be compared. "
        f"Run `memos-server reindex` with this configuration to re-embed them with the new "
        f"model (about {total} memories{under_way}; a service on the old model keeps answering "
        f"meanwhile), then start the service again; or set {model_setting(stored_model)} to "
        "keep the old model."
    )
