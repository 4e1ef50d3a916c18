"""A vector bound as text (``storage.types.vector_text``) is stored as exactly the float32 values
the model gave, and what pgvector refuses is still refused; read back in pgvector's binary form
(``vector_bytes``), one or many at once, it is the same floats."""

from __future__ import annotations

import asyncio

import asyncpg
import numpy as np
import pytest

from memos_server.storage.types import floats_of, rows_of, vector_text


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


def test_many_binary_vectors_decode_as_each_alone(pg_url: str) -> None:
    rng = np.random.default_rng(11)
    vectors = [rng.standard_normal(384).astype(np.float32) for _ in range(5)]

    async def sent(texts: list[str]) -> list[bytes]:
        connection = await asyncpg.connect(pg_url)
        try:
            await connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
            rows = await connection.fetch(
                "SELECT vector_send(v::vector) FROM unnest($1::text[]) WITH ORDINALITY AS t(v, n)"
                " ORDER BY n",
                texts,
            )
            return [bytes(row[0]) for row in rows]
        finally:
            await connection.close()

    same_length = asyncio.run(sent([vector_text(v.tolist()) for v in vectors]))
    decoded = rows_of(same_length)
    assert all(np.array_equal(row, v) for row, v in zip(decoded, vectors, strict=True))
    assert all(row.dtype == np.float32 for row in decoded)
    # Of different lengths (never one model's), each is decoded on its own.
    mixed = [*same_length[:2], *asyncio.run(sent(["[1,2,3]"]))]
    assert [row.tolist() for row in rows_of(mixed)] == [floats_of(b).tolist() for b in mixed]
