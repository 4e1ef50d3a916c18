"""Search's one pass (``memory_scan``) finds what its two statements find: each kind's nearest rows
in order, the same full-text hits in order with the same similarity, the same counts (memories,
feedback, each counted word's), for a user's scope, a filtered scope (a statement built for the one
search), an agent's scope, and a user whose memories tie (copies of one memory: the same distance
and rank; both forms keep the same ones at the cut); on real Postgres, Chinese and English."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from memos_server.filters import parse_filter
from memos_server.settings import DatabaseSettings
from memos_server.storage.database import Database
from memos_server.storage.models import Memory
from memos_server.storage.repositories.memory_scan import MemoryScan
from memos_server.storage.repositories.memory_scopes import Scope
from memos_server.text.tokens import query_tokens
from tests.support.api import Api
from tests.support.service import ServiceThread

_TURNS = [
    "我周末常去香山爬山，最喜欢秋天的红叶",
    "I play tennis with my sister Anna every Saturday morning",
    "我姐姐的猫叫豆豆，它特别喜欢吃鱼",
    "My favourite food is spicy hotpot, especially in winter",
    "我在杭州工作，每天坐地铁上班",
    "Anna lives in Hangzhou and works as a nurse",
    "周末我和姐姐一起去西湖散步",
    "I am learning to play the piano on Sunday evenings",
]
_QUERIES = [
    "周末去哪里爬山",
    "what does my sister do",
    "猫喜欢吃什么",
    "tennis Saturday Anna",
    "杭州",
]


def test_one_pass_finds_what_the_two_statements_find(
    service: ServiceThread, api_key: str, pg_url: str
) -> None:
    with Api(service.base_url, api_key) as api:
        for number, turn in enumerate(_TURNS):
            api.ok(
                "/add/message",
                {
                    "user_id": "scan-user",
                    "agent_id": "scan-agent",
                    "conversation_id": f"c{number % 2}",
                    "messages": [{"role": "user", "content": turn}],
                    "async_mode": False,
                },
            )

    async def compare() -> int:
        database = Database(pg_url, DatabaseSettings(pool_size=1, max_overflow=0))
        compared = 0
        try:
            async with database.session() as session:
                project, vectors = await _project_and_vectors(session)
                await _tied_copies(session, "Anna lives in Hangzhou", 7)
                scopes = [
                    Scope(project, "scan-user"),
                    Scope(project, "scan-user", where=parse_filter({"conversation_id": "c1"})),
                    Scope(project, None, agent_id="scan-agent"),
                    Scope(project, "scan-ties"),
                ]
                repository = MemoryScan(session)
                pools = {"fact": 3, "preference": 3}
                for scope in scopes:
                    for query, vector in zip(_QUERIES, vectors, strict=False):
                        tokens = query_tokens(query)
                        lexical, counts = await repository.lexical_and_counts(
                            scope, pools, tokens, frequencies=True
                        )
                        ids = [hit.id for kind in pools for hit in lexical[kind]]
                        nearest, similar = await repository.nearest_and_similar(
                            scope, pools, vector, ids
                        )
                        one = await repository.scanned(
                            scope, pools, tokens, vector, frequencies=True
                        )
                        assert one.counts.memories == counts.memories
                        assert one.counts.feedback == counts.feedback
                        for kind in pools:
                            assert [(h.id, h.time) for h in one.nearest[kind]] == [
                                (h.id, h.time) for h in nearest[kind]
                            ]
                            for a, b in zip(one.nearest[kind], nearest[kind], strict=True):
                                assert abs(a.similarity - b.similarity) < 1e-9
                            assert [(h.id, h.time, h.words) for h in one.lexical[kind]] == [
                                (h.id, h.time, h.words) for h in lexical[kind]
                            ]
                            if lexical[kind]:
                                assert one.counts.words[kind] == counts.words[kind]
                        if scope.user_id == "scan-ties":
                            # Ties are cut by id, whichever form reads them and in what order.
                            tied = sorted(await _ids(session, "scan-ties"))
                            assert len(tied) == 7
                            assert [h.id for h in one.nearest["fact"]] == tied[:3]
                            if one.lexical["fact"]:
                                assert [h.id for h in one.lexical["fact"]] == tied[:3]
                        assert one.similar.keys() == similar.keys()
                        for id_, value in similar.items():
                            assert abs(one.similar[id_] - value) < 1e-9
                        compared += sum(len(hits) for hits in one.lexical.values())
        finally:
            await database.dispose()
        return compared

    assert asyncio.run(compare()) > 0  # some queries matched words


async def _tied_copies(session: AsyncSession, text: str, copies: int) -> None:
    """``copies`` copies of the memory holding ``text``, for the user scan-ties: rows that tie on
    distance and on rank, more of them than the pools keep."""
    table = Memory.__table__
    columns = [column for column in table.c if column.name != "tsv"]  # generated from the text
    replaced = {"id": func.gen_random_uuid(), "user_id": literal("scan-ties")}
    copy = insert(Memory).from_select(
        [column.name for column in columns],
        select(*(replaced.get(column.name, column) for column in columns)).where(
            Memory.user_id == "scan-user", Memory.memory_value.contains(text)
        ),
    )
    for _ in range(copies):
        await session.execute(copy)
    await session.commit()


async def _ids(session: AsyncSession, user_id: str) -> list[uuid.UUID]:
    return list(
        (await session.execute(select(Memory.id).where(Memory.user_id == user_id))).scalars()
    )


async def _project_and_vectors(session: AsyncSession) -> tuple[uuid.UUID, list[list[float]]]:
    """The user's project, and stored memories' embeddings to search with."""
    rows = (
        await session.execute(
            select(Memory.project_id, Memory.embedding)
            .where(Memory.user_id == "scan-user")
            .order_by(Memory.create_time)
        )
    ).all()
    return rows[0][0], [list(map(float, row[1])) for row in rows]
