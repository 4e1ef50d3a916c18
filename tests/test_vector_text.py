"""A vector bound as text (``storage.types.vector_text``) is stored as exactly the float32 values
the model gave, and what pgvector refuses is still refused."""

from __future__ import annotations

import asyncio

import asyncpg
import numpy as np
import pytest

from memos_server.storage.types import vector_text


def stored(pg_url: str, text: str) -> list[float]:
    async def run() -> list[float]:
        connection = await asyncpg.connect(pg_url)
        try:
            await connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
            values: list[float] = await connection.fetchval("SELECT $1::vector::real[]", text)
            return values
        finally:
            await connection.close()

    return asyncio.run(run())


def test_each_float32_comes_back_exactly(pg_url: str) -> None:
    rng = np.random.default_rng(7)
    vector = np.concatenate(
        [
            rng.standard_normal(380).astype(np.float32) * 0.05,
            np.array([1e-38, -3.4e38, 0.0, 123456.789], dtype=np.float32),
        ]
    )

    back = np.array(stored(pg_url, vector_text(vector.tolist())), dtype=np.float32)

    assert np.array_equal(back, vector)
    assert vector_text([0.5, -2.0]) == "[0.5,-2]"


def test_doubles_are_rounded_as_postgres_would(pg_url: str) -> None:
    doubles = [0.1, 1 / 3, -2.718281828459045]

    assert stored(pg_url, vector_text(doubles)) == stored(pg_url, str(doubles).replace(" ", ""))


def test_what_pgvector_refuses_is_still_refused(pg_url: str) -> None:
    for bad in ([float("nan"), 1.0], [float("inf")], []):
        with pytest.raises(asyncpg.PostgresError):
            stored(pg_url, vector_text(bad))
    with pytest.raises(ValueError, match="one dimension"):
        vector_text([[1.0, 2.0]])


def test_a_null_in_a_vector_is_refused_before_postgres() -> None:
    with pytest.raises(ValueError, match="not null"):
        vector_text([0.5, None])  # type: ignore[list-item]
