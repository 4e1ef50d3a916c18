"""Changing the embedding model of a live database: ``memos-server reindex`` and the admin API.

From all-MiniLM-L6-v2 (the database's model) to multilingual-e5-small, on databases of their
own: the CLI as a real process, killed midway and run again, while a service on the old model
keeps answering searches; the admin API in a service; the start-up message.
"""

from __future__ import annotations

import asyncio
import io
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from memos_server.errors import ConfigurationError
from memos_server.services.embedding_binding import bind_embedding_model
from memos_server.settings import E5_LOCAL_MODEL, MINILM_LOCAL_MODEL, DatabaseSettings
from memos_server.storage.database import Database
from tests.support.api import Api
from tests.support.database import fresh_database, new_api_key, sql
from tests.support.knowledge import create_base, passages_of, settled, upload
from tests.support.paths import MODEL_CACHE
from tests.support.process import ServiceProcess
from tests.support.service import ADMIN_KEY, ServiceThread, make_settings
from tests.support.waiting import wait_until

E5 = f"local:{E5_LOCAL_MODEL}"
MINILM = f"local:{MINILM_LOCAL_MODEL}"
SEATS = "我一般都坐东航，座位尽量靠窗"
SEATS_QUERY = "帮我网上值机选个位子"

CITIES = ["北京", "上海", "广州", "深圳", "杭州", "南京", "西安", "重庆", "武汉", "苏州"]
FOODS = ["火锅", "饺子", "烤鸭", "米粉", "小笼包", "面条", "寿司", "披萨", "沙拉", "咖喱"]
HOBBIES = ["swimming", "chess", "painting", "hiking", "cooking", "running", "piano", "reading"]


def texts(count: int) -> list[str]:
    """Varied memories, Chinese and English, none about flights or seats."""
    found = []
    for n in range(count):
        city, food, hobby = CITIES[n % 10], FOODS[(n * 3) % 10], HOBBIES[n % 8]
        if n % 2:
            found.append(f"我在{city}住了{n % 7 + 1}年，最喜欢吃{food}（第{n}条）")
        else:
            found.append(f"On weekends I like {hobby} with my friend number {n}.")
    return found


def add(api: Api, user: str, text: str) -> None:
    api.ok(
        "/add/message",
        {
            "user_id": user,
            "conversation_id": "c",
            "messages": [{"role": "user", "content": text}],
        },
    )


def populate(base_url: str, key: str, count: int) -> None:
    """``count`` memories over three users, from four threads; user u0 also gets SEATS."""
    batches = [texts(count)[i::4] for i in range(4)]

    def run(batch: list[str]) -> None:
        with Api(base_url, key) as api:
            for n, text in enumerate(batch):
                add(api, f"u{n % 3}", text)

    threads = [threading.Thread(target=run, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Api(base_url, key) as api:
        add(api, "u0", SEATS)


def counts(url: str) -> tuple[int, int]:
    [row] = sql(url, "SELECT count(embedding_next) AS done, count(*) AS total FROM memories")
    return int(row["done"]), int(row["total"])


def meta(url: str) -> dict[str, str]:
    return {r["key"]: r["value"] for r in sql(url, "SELECT key, value FROM service_meta")}


class Searches:
    """Searches against a service from a thread, until stopped: every answer is counted."""

    def __init__(self, base_url: str, key: str, bases: list[str] | None = None) -> None:
        self.base_url, self.key, self.bases = base_url, key, bases
        self.statuses: list[int] = []
        self.messages: list[str] = []
        self.passages: list[int] = []  # passages in each answer (with ``bases``)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with Api(self.base_url, self.key) as api:
            n = 0
            while not self.stop.is_set():
                query = "最喜欢吃什么" if n % 2 else "what do I like on weekends"
                body: dict[str, object] = {"user_id": f"u{n % 3}", "query": query}
                if self.bases:
                    body["knowledgebase_ids"] = self.bases
                    query = "邮轮的餐厅几点开门" if n % 2 else "游轮行李怎么托运"
                    body["query"] = query
                response = api.post("/search/memory", body)
                self.statuses.append(response.status_code)
                self.messages.append(str(response.json().get("message", "")))
                if response.status_code == 200:
                    self.passages.append(len(passages_of(response.json()["data"])))
                n += 1
                time.sleep(0.05)

    def __enter__(self) -> Searches:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def reindex_process(url: str, workdir: Path, *extra: str) -> subprocess.Popen[str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    env.update(
        MEMOS_DATABASE__URL=url,
        MEMOS_EMBEDDING__MODEL=E5_LOCAL_MODEL,
        MEMOS_EMBEDDING__CACHE_DIR=str(MODEL_CACHE),
        MEMOS_DATA_DIR=str(workdir),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "memos_server", "reindex", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def old_service(pg_url: str, tmp_path: Path) -> Iterator[tuple[str, ServiceProcess]]:
    """A fresh database and a service on it with the old model (MiniLM), as its own process."""
    url = fresh_database(pg_url)
    service = ServiceProcess(
        tmp_path,
        MEMOS_DATABASE__URL=url,
        MEMOS_DATA_DIR=str(tmp_path),
        MEMOS_ADMIN_KEY=ADMIN_KEY,
        MEMOS_EMBEDDING__MODEL=MINILM_LOCAL_MODEL,
    ).start()
    try:
        yield url, service
    finally:
        service.stop()


def test_reindex_while_searching_survives_a_kill_and_binds_the_new_model(
    old_service: tuple[str, ServiceProcess], tmp_path: Path
) -> None:
    url, service = old_service
    key = new_api_key(url)
    populate(service.base_url, key, 300)
    _, total = counts(url)
    assert total == 301
    assert meta(url)["embedding_model"] == MINILM

    with Searches(service.base_url, key) as searches:
        first = reindex_process(url, tmp_path, "--batch-size", "16")
        try:
            wait_until(lambda: counts(url)[0] >= 80, timeout_s=180, what="a third re-embedded")
            # The progress is in /metrics of the service, whichever process reindexes.
            scraped = httpx.get(service.base_url.split("/api/")[0] + "/metrics").text
            assert "memos_reindex_running 1.0" in scraped
            assert f'memos_reindex_memories{{model="{E5}",state="total"}} 301.0' in scraped
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=30)
        done_before, _ = counts(url)
        assert 80 <= done_before < total
        with Api(service.base_url, key) as api:  # written after the kill, on the old model
            for n in range(5):
                add(api, "u1", f"后来又记下的一件事，编号{n}")
        second = reindex_process(url, tmp_path, "--batch-size", "16")
        out, _ = second.communicate(timeout=600)
    assert second.returncode == 0, out

    final_total = total + 5
    # Not a terminal: plain progress lines, and every memory embedded exactly once over both
    # runs (the second one never redid the first one's rows).
    assert f"reindex {E5}: " in out
    assert "\r" not in out
    assert f"{final_total - done_before} memories re-embedded by this run" in out, out
    assert f"{final_total} in all" in out
    assert len(searches.statuses) > 10
    # Searches answered all along; once the swap is done the old service retires (503 saying so,
    # within seconds), and a search still running then may meet that, never anything else.
    answers = list(zip(searches.statuses, searches.messages, strict=True))
    first_refusal = next((i for i, (status, _) in enumerate(answers) if status != 200), None)
    assert first_refusal is None or first_refusal > 10, answers[:20]
    for status, message in answers[first_refusal or len(answers) :]:
        assert status == 503, (status, message)
        assert "restart" in message, message
    assert meta(url)["embedding_model"] == E5
    assert "reindex_model" not in meta(url)
    assert counts(url) == (0, final_total)

    # The old service notices the swap and says what to do instead of mixing models.
    def refused() -> str | None:
        response = httpx.post(
            service.base_url + "/search/memory",
            json={"user_id": "u0", "query": "x"},
            headers={"Authorization": f"Token {key}"},
        )
        return response.text if response.status_code == 503 else None

    assert "MEMOS_EMBEDDING__MODEL" in wait_until(refused, timeout_s=30, what="a 503")
    service.stop()

    # Restarted with the new model, it finds a Chinese paraphrase.
    new = ServiceProcess(
        tmp_path, MEMOS_DATABASE__URL=url, MEMOS_EMBEDDING__MODEL=E5_LOCAL_MODEL
    ).start()
    try:
        with Api(new.base_url, key) as api:
            found = api.ok("/search/memory", {"user_id": "u0", "query": SEATS_QUERY})
        values = [m["memory_value"] for m in found["memory_detail_list"]][:3]
        assert any(SEATS in value for value in values), values
    finally:
        new.stop()


GUIDE = "\n\n".join(
    f"## 第{n}章 {subject}\n\n"
    + "".join(
        f"邮轮{subject}的第{n}条说明：旅客请按船方通知办理，编号{n}-{line}。" for line in range(8)
    )
    for n, subject in enumerate(["餐厅", "行李", "客舱", "岸上观光", "安全演习", "医疗服务"] * 3)
)


def passage_vectors(url: str) -> dict[str, str]:
    rows = sql(url, "SELECT id::text AS id, embedding::text AS v FROM knowledge_passages")
    return {r["id"]: r["v"] for r in rows}


def test_reindex_re_embeds_knowledge_base_passages_while_they_are_searched(
    old_service: tuple[str, ServiceProcess], tmp_path: Path
) -> None:
    url, service = old_service
    key = new_api_key(url)
    populate(service.base_url, key, 40)
    with Api(service.base_url, key) as api:
        base = create_base(api, "邮轮手册")
        files = upload(api, base, ("guide.md", GUIDE.encode()))
        assert settled(api, [f["id"] for f in files], 300)[0]["status"] == "completed"
    before = passage_vectors(url)
    assert len(before) >= 10

    with Searches(service.base_url, key, [base]) as searches:
        run = reindex_process(url, tmp_path, "--batch-size", "8")
        out, _ = run.communicate(timeout=600)
    assert run.returncode == 0, out
    # Every passage embedded exactly once, by this run, and now holds the new model's vector.
    assert f"{len(before)} knowledge-base passages re-embedded by this run" in out, out
    assert f"{len(before)} in all" in out
    after = passage_vectors(url)
    assert after.keys() == before.keys()
    assert all(after[p] != before[p] for p in before)
    [left] = sql(url, "SELECT count(embedding_next) AS n FROM knowledge_passages")
    assert left["n"] == 0
    assert meta(url)["embedding_model"] == E5
    # Searches naming the base answered with its passages until the old service retired.
    answers = list(zip(searches.statuses, searches.messages, strict=True))
    first_refusal = next((i for i, (status, _) in enumerate(answers) if status != 200), None)
    assert first_refusal is None or first_refusal > 5, answers[:20]
    assert all(status == 503 for status, _ in answers[first_refusal or len(answers) :])
    assert len(searches.passages) > 5
    assert all(found > 0 for found in searches.passages), searches.passages
    service.stop()

    # On the new model, a Chinese paraphrase finds its passage.
    new = ServiceProcess(
        tmp_path, MEMOS_DATABASE__URL=url, MEMOS_EMBEDDING__MODEL=E5_LOCAL_MODEL
    ).start()
    try:
        with Api(new.base_url, key) as api:
            found = api.ok(
                "/search/memory",
                {"user_id": "u0", "query": "船上看病去哪里", "knowledgebase_ids": [base]},
            )
        texts_found = [p["memory_value"] for p in passages_of(found)][:3]
        assert any("医疗服务" in text for text in texts_found), texts_found
    finally:
        new.stop()


def test_the_admin_api_reindexes_in_the_service(pg_url: str, tmp_path: Path) -> None:
    url = fresh_database(pg_url)
    service = ServiceThread(
        make_settings(
            url, tmp_path, embedding={"cache_dir": MODEL_CACHE, "model": MINILM_LOCAL_MODEL}
        )
    )
    service.start()
    try:
        key = new_api_key(url)
        populate(service.base_url, key, 40)
        root = service.base_url.split("/api/")[0] + "/admin/v1"
        body = {"model": E5_LOCAL_MODEL}
        # As the rest of the admin API: 401 without the admin key, 403 with none configured.
        with Api(root, None) as anonymous:
            anonymous.fails("/reindex", body, 401, 40100)
        with Api(root, key) as project_key:
            project_key.fails("/reindex", body, 401, 40132)
        settings = service.runtime.settings
        configured, settings.admin_key = settings.admin_key, None
        try:
            with Api(root, ADMIN_KEY) as admin:
                assert "MEMOS_ADMIN_KEY" in admin.fails("/reindex", body, 403, 40100)
        finally:
            settings.admin_key = configured
        with Api(root, ADMIN_KEY) as admin:
            assert admin.data_of(admin.get("/reindex"))["phase"] == "idle"
            assert "no-such-model" in admin.fails(
                "/reindex", {"model": "no-such-model"}, 400, 40000
            )
            started = admin.ok("/reindex", body)
            assert started["model"] == E5
            assert started["here"] is True
            assert started["phase"] in ("embedding", "swapping", "done")

            def finished() -> dict[str, Any] | None:
                status: dict[str, Any] = admin.data_of(admin.get("/reindex"))
                assert status["phase"] != "failed", status
                return status if status["phase"] == "done" else None

            status = wait_until(finished, timeout_s=180, what="the reindex")
        assert status["done"] == status["total"] == 41
        assert status["embedded"] == 41
        assert meta(url)["embedding_model"] == E5
        # This service still holds MiniLM: it answers 503, saying to restart it.
        with Api(service.base_url, key) as api:
            message = api.fails("/search/memory", {"user_id": "u0", "query": "x"}, 503, 50004)
        assert E5 in message
        assert "restart" in message
    finally:
        service.stop()


class Model:
    """Only what the binding reads of a model: its identity and vector size."""

    def __init__(self, name: str, dimension: int) -> None:
        self.name, self.dimension = name, dimension


def test_a_start_with_another_model_says_what_to_run(pg_url: str) -> None:
    from memos_server.storage.migrations import upgrade_database
    from tests.support.memories import store_memories

    url = fresh_database(pg_url)
    upgrade_database(url)
    asyncio.run(_bind(url, Model(MINILM, 384)))
    store_memories(url, new_api_key(url), "u", 12)
    with pytest.raises(ConfigurationError) as refused:
        asyncio.run(_bind(url, Model(E5, 384)))
    message = str(refused.value)
    assert f"embedded by {MINILM}" in message
    assert f"the configured model is {E5}" in message
    assert "Run `memos-server reindex`" in message
    assert "about 12 memories" in message
    assert "MEMOS_EMBEDDING__MODEL=all-MiniLM-L6-v2 to keep the old model" in message
    with pytest.raises(ConfigurationError, match=r"384 dimensions.*768 dimensions"):
        asyncio.run(_bind(url, Model("openai:text-embedding-3-small", 768)))


def test_the_migration_on_a_populated_database_and_its_trigger(pg_url: str) -> None:
    from alembic import command
    from sqlalchemy.exc import DBAPIError

    from memos_server.storage.migrations import alembic_config
    from tests.support.database import execute

    url = fresh_database(pg_url)
    config = alembic_config(url)
    command.upgrade(config, "0008")
    asyncio.run(_bind(url, Model(MINILM, 3)))
    project = "00000000-0000-0000-0000-000000000001"
    execute(url, "INSERT INTO projects (id, name) VALUES (CAST(:id AS uuid), 'p')", id=project)
    execute(
        url,
        "INSERT INTO memories (project_id, user_id, kind, mode, memory_key, memory_value,"
        " memory_type, embedding) SELECT CAST(:p AS uuid), 'u', 'fact', 'fast', 'k', 'v' || g,"
        " 'UserMemory', '[1,2,3]' FROM generate_series(1, 50) AS g",
        p=project,
    )
    command.upgrade(config, "head")
    assert counts(url) == (0, 50)
    # A vector made for the reindex is void once the memory's own vector changes (its text was
    # edited meanwhile); an update that leaves the vector alone keeps it.
    execute(url, "UPDATE memories SET embedding_next = '[1,0,0,0]'")
    execute(url, "UPDATE memories SET status = 'archived' WHERE memory_value = 'v1'")
    execute(url, "UPDATE memories SET embedding = '[3,2,1]' WHERE memory_value = 'v2'")
    assert counts(url) == (49, 50)
    [row] = sql(url, "SELECT embedding_next FROM memories WHERE memory_value = 'v2'")
    assert row["embedding_next"] is None

    # A connection that holds another model than the bound one may not write vectors.
    async def write_as(model: str) -> None:
        from sqlalchemy import text

        database = Database(
            url, DatabaseSettings(pool_size=1, max_overflow=0), embedding_model=model
        )
        try:
            async with database.session() as session:
                await session.execute(text("UPDATE memories SET embedding = '[9,9,9]'"))
                await session.execute(text("UPDATE memories SET status = 'activated'"))
        finally:
            await database.dispose()

    asyncio.run(write_as(MINILM))
    with pytest.raises(DBAPIError, match="bound to the embedding model"):
        asyncio.run(write_as(E5))


async def _bind(url: str, model: Model) -> None:
    database = Database(url, DatabaseSettings(pool_size=1, max_overflow=0))
    try:
        async with database.session() as session:
            await bind_embedding_model(session, model)  # type: ignore[arg-type]
            await session.commit()
    finally:
        await database.dispose()


class SmallModel:
    """A stand-in model of another size (8): vectors from the text's bytes, unit length."""

    name = "fake:small-8"
    dimension = 8
    max_tokens = 256

    def __init__(self) -> None:
        self.texts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def embed(self, texts: Any, kind: Any = None) -> list[list[float]]:
        self.texts.extend(texts)
        vectors = []
        for text in texts:
            raw = [float((sum(text.encode()) * (i + 3)) % 17 + 1) for i in range(8)]
            norm = sum(x * x for x in raw) ** 0.5
            vectors.append([x / norm for x in raw])
        return vectors

    async def aclose(self) -> None:
        pass


def test_a_model_of_another_size_replaces_the_vectors_and_the_indexes(pg_url: str) -> None:
    from memos_server.services.reindex import Reindexer
    from memos_server.settings import SearchSettings
    from memos_server.storage.migrations import upgrade_database
    from memos_server.storage.repositories.vector_indexes import PREFIX
    from tests.support.database import execute
    from tests.support.memories import store_memories

    url = fresh_database(pg_url)
    upgrade_database(url)
    asyncio.run(_bind(url, Model(MINILM, 384)))
    key = new_api_key(url)
    store_memories(url, key, "heavy", 40)
    store_memories(url, key, "light", 3, text="other")

    async def run() -> SmallModel:
        from memos_server.services.search.vector_indexes import sync_indexes

        database = Database(
            url, DatabaseSettings(pool_size=2, max_overflow=0), embedding_model=SmallModel.name
        )
        try:
            # A per-user HNSW index on the old vectors (vector(384)), as a service builds it.
            search = SearchSettings(hnsw_min_memories=30, hnsw_sync_interval_s=3600)
            assert len((await sync_indexes(database, search, 384)).created) == 1
            model = SmallModel()
            progress = await Reindexer(database, model, batch_size=10).run()  # type: ignore[arg-type]
            assert (progress.embedded, progress.done, progress.total) == (43, 43, 43)
            return model
        finally:
            await database.dispose()

    model = asyncio.run(run())
    assert len(model.texts) == 43  # each memory embedded once
    assert meta(url)["embedding_model"] == SmallModel.name
    assert meta(url)["embedding_dimension"] == "8"
    [row] = sql(
        url,
        "SELECT min(vector_dims(embedding)) AS lo, max(vector_dims(embedding)) AS hi FROM memories",
    )
    assert (row["lo"], row["hi"]) == (8, 8)
    assert sql(url, "SELECT relname FROM pg_class WHERE relname LIKE :p", p=PREFIX + "%") == []
    with pytest.raises(IntegrityError, match="ck_memories_embedding_dim"):  # 384: refused now
        execute(
            url,
            "UPDATE memories SET embedding = array_fill(0.05::real, ARRAY[384])::vector"
            " WHERE user_id = 'light'",
        )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_on_a_terminal_and_lines_elsewhere() -> None:
    from memos_server.progress_bar import ProgressBar
    from memos_server.services.reindex import Phase, Progress

    screen = Terminal()
    bar = ProgressBar(screen)
    progress = Progress(E5, done=30, total=120, embedded=30)
    bar(progress)
    progress.done, progress.phase = 120, Phase.DONE
    bar(progress)
    drawn = screen.getvalue()
    assert drawn.startswith(f"\rreindex {E5} [########----------------------] 30/120")
    assert "(25%)" in drawn
    assert drawn.endswith("[done]\x1b[K\n")

    log = io.StringIO()
    lines = ProgressBar(log)
    progress = Progress(E5, done=0, total=120)
    for done in (10, 20, 30):  # within five seconds: one line
        progress.done = done
        lines(progress)
    progress.phase = Phase.DONE
    lines(progress)
    assert log.getvalue().splitlines() == [
        f"reindex {E5}: 10/120 memories (8%), 0.0/s [embedding]",
        f"reindex {E5}: 30/120 memories (25%), 0.0/s [done]",
    ]


def test_passages_are_reindexed_to_a_model_of_another_size(pg_url: str) -> None:
    """A passage is embedded once, from its text as the document job embeds it, and swapped to
    the new model's vector of another size (passages have no size check of their own)."""
    from memos_server.services.reindex import Reindexer
    from memos_server.storage.migrations import upgrade_database
    from tests.support.database import execute

    url = fresh_database(pg_url)
    upgrade_database(url)
    asyncio.run(_bind(url, Model(MINILM, 384)))
    new_api_key(url)
    [project] = sql(url, "SELECT id FROM projects LIMIT 1")
    ids = {"p": project["id"]}
    execute(
        url,
        "INSERT INTO tasks (id, project_id, kind, user_id, conversation_id, status) VALUES "
        "('00000000-0000-0000-0000-000000000001', :p, 'knowledge', '', '', 'completed')",
        **ids,
    )
    execute(
        url,
        "INSERT INTO knowledge_bases (id, project_id, name) VALUES "
        "('00000000-0000-0000-0000-000000000002', :p, '手册')",
        **ids,
    )
    execute(
        url,
        "INSERT INTO knowledge_files (id, project_id, knowledgebase_id, task_id, name, type,"
        " size_bytes, status) VALUES ('00000000-0000-0000-0000-000000000003', :p,"
        " '00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001',"
        " 'a.txt', 'txt', 10, 'completed')",
        **ids,
    )
    execute(
        url,
        "INSERT INTO knowledge_passages (id, project_id, knowledgebase_id, file_id, position, text,"
        " embedding) VALUES ('00000000-0000-0000-0000-000000000004', :p,"
        " '00000000-0000-0000-0000-000000000002',"
        " '00000000-0000-0000-0000-000000000003', 0, '退货政策：七天无理由',"
        " array_fill(0.05::real, ARRAY[384])::vector)",
        **ids,
    )

    model = SmallModel()

    async def run() -> None:
        database = Database(
            url, DatabaseSettings(pool_size=2, max_overflow=0), embedding_model=SmallModel.name
        )
        try:
            await Reindexer(database, model).run()  # type: ignore[arg-type]
        finally:
            await database.dispose()

    asyncio.run(run())
    assert meta(url)["embedding_model"] == SmallModel.name
    [row] = sql(
        url,
        "SELECT vector_dims(embedding) AS dims, embedding_next IS NULL AS swapped "
        "FROM knowledge_passages",
    )
    assert row == {"dims": 8, "swapped": True}
    assert model.texts == ["退货政策：七天无理由"]  # embedded once
