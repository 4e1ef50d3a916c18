"""Helpers the tests share: a service in a thread, an envelope-aware client, seed conversations."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from memos_server.app import API_PREFIX, create_app
from memos_server.runtime import Runtime
from memos_server.services.apikeys import create_key
from memos_server.settings import DatabaseSettings, Settings
from memos_server.storage.database import Database

ROOT = Path(__file__).resolve().parents[1]
# Every test service shares one ONNX export of the model (made once, by the first to start).
MODEL_CACHE = ROOT / "test-artifacts" / "models"


# The admin key of every test service (the admin API's own tests turn it off to see it refuse).
ADMIN_KEY = "admin-" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test service: never read from a developer's .env file."""
    values: dict[str, Any] = {
        "database": {"url": database_url},
        "data_dir": data_dir,
        "embedding": {"cache_dir": MODEL_CACHE},
        "admin_key": ADMIN_KEY,
        # Tests call faster than any client should, and send wrong keys on purpose: the rate
        # limit and the wrong-key throttle have tests of their own.
        "limits": {"rate_per_key": 0, "failed_keys_per_minute": 0},
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class ServiceThread:
    """The real app under uvicorn, on a loopback port, in a thread of the test process."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 180
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the service failed to start; see the log above")
            if time.monotonic() > deadline:
                raise TimeoutError("the service did not start within 180 s")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def new_api_key(database_url: str, project: str | None = None) -> str:
    """A key for a new project, made the way ``memos-server apikey create`` makes one."""

    async def make() -> str:
        database = Database(database_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                key = await create_key(session, project or f"test-{uuid.uuid4().hex[:12]}")
                await session.commit()
            return key.secret
        finally:
            await database.dispose()

    return asyncio.run(make())


class Api:
    """An HTTP client for the service that knows the MemOS envelope."""

    def __init__(self, base_url: str, key: str | None) -> None:
        headers = {"Authorization": f"Token {key}"} if key else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=60)

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(path, json=body)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def ok(self, path: str, body: Any) -> Any:
        """POST, assert success, return ``data``."""
        response = self.post(path, body)
        return self.data_of(response)

    @staticmethod
    def data_of(response: httpx.Response) -> Any:
        """Assert a success envelope, return its ``data``."""
        assert response.status_code == 200, response.text
        envelope = response.json()
        assert envelope["code"] == 0, envelope
        assert envelope["message"] == "ok"
        return envelope["data"]

    def fails(self, path: str, body: Any, status: int, code: int) -> str:
        """POST, assert the MemOS error envelope with this status and code, return the message."""
        return self.error_of(self.post(path, body), status, code)

    @staticmethod
    def error_of(response: httpx.Response, status: int, code: int) -> str:
        """Assert the MemOS error envelope with this status and code, return the message."""
        envelope = response.json()
        assert (response.status_code, envelope["code"]) == (status, code), envelope
        assert envelope["data"] is None
        assert set(envelope) == {"code", "message", "data"}
        message: str = envelope["message"]
        return message

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


SEED_FAMILY_TRIP = [
    {"role": "user", "content": "我想暑假出去玩,你能帮我推荐下吗?"},
    {"role": "assistant", "content": "好的!是自己出行还是和家人朋友一起呢?"},
    {"role": "user", "content": "肯定要带孩子啊,我们家出门都是全家一起。"},
    {"role": "assistant", "content": "明白了,所以你们是父母带孩子一块儿旅行,对吗?"},
    {"role": "user", "content": "对,带上孩子和老人,一般都是全家行动。"},
    {"role": "assistant", "content": "收到,那我会帮你推荐适合家庭出游的目的地。"},
]

SEED_HOTEL = [
    {"role": "user", "content": "我暑假定好去广州旅游，住宿的话有哪些连锁酒店可选？"},
    {"role": "assistant", "content": "您可以考虑【七天、全季、希尔顿】等等"},
    {"role": "user", "content": "我选七天"},
    {"role": "assistant", "content": "好的，有其他问题再问我。"},
]

ENGLISH_TRIP = [
    {"role": "user", "content": "I'm planning a summer trip with my kids and my parents."},
    {"role": "assistant", "content": "Lovely! Do you prefer beaches or mountains?"},
    {"role": "user", "content": "Beaches, always. My son loves swimming."},
    {"role": "assistant", "content": "Then a family resort by the sea would suit you."},
]


def store_preference(
    service: ServiceThread,
    database_url: str,
    api_key: str,
    user_id: str,
    preference: str,
    *,
    preference_type: str = "explicit_preference",
    reasoning: str = "",
) -> str:
    """Store a preference memory as fine mode would, embedded by the service's own model."""
    from memos_server.services.apikeys import hash_key
    from memos_server.services.memory_writer import MemoryText, new_memory
    from memos_server.storage.repositories.api_keys import ApiKeyRepository
    from memos_server.storage.repositories.memories import MemoryRepository
    from memos_server.storage.vocabulary import MemoryKind, MemoryMode

    async def store() -> str:
        [vector] = await service.runtime.require_embedder().embed([preference])
        database = Database(database_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                key = await ApiKeyRepository(session).find(hash_key(api_key))
                assert key is not None
                memory = new_memory(
                    text=MemoryText(preference[:20], preference),
                    project_id=key.project_id,
                    user_id=user_id,
                    conversation_id="prefs",
                    kind=MemoryKind.PREFERENCE,
                    mode=MemoryMode.FINE,
                    memory_type="UserMemory",
                    preference_type=preference_type,
                    reasoning=reasoning,
                    embedding=vector,
                )
                await MemoryRepository(session).add_all([memory], [])
                await session.commit()
                return str(memory.id)
        finally:
            await database.dispose()

    return asyncio.run(store())


def sql(database_url: str, statement: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of one query, to check what the service stored beyond what the API shows."""
    from sqlalchemy import text

    async def run() -> list[dict[str, Any]]:
        database = Database(database_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                result = await session.execute(text(statement), params)
                return [dict(row) for row in result.mappings()]
        finally:
            await database.dispose()

    return asyncio.run(run())


def execute(database_url: str, statement: str, **params: Any) -> int:
    """Run one statement and commit; the rows it touched."""
    from sqlalchemy import text

    async def run() -> int:
        database = Database(database_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.session() as session:
                result = await session.execute(text(statement), params)
                await session.commit()
                return int(result.rowcount)  # type: ignore[attr-defined]
        finally:
            await database.dispose()

    return asyncio.run(run())


def project_of(database_url: str, api_key: str) -> str:
    from memos_server.services.apikeys import hash_key

    [row] = sql(
        database_url,
        "SELECT project_id::text AS id FROM api_keys WHERE key_hash = :h",
        h=hash_key(api_key),
    )
    project: str = row["id"]
    return project


def store_memories(
    database_url: str,
    api_key: str,
    user_id: str,
    count: int,
    *,
    text: str = "bulk memory",
    kind: str = "fact",
    memory_type: str = "LongTermMemory",
    preference_type: str | None = None,
    agent_id: str | None = None,
    status: str = "activated",
    same_time: bool = False,
) -> int:
    """Store ``count`` memories in one INSERT ... SELECT generate_series, sharing one vector.

    Memory ``n`` is called ``"<text> <n>"`` and, unless ``same_time``, was made ``n`` seconds
    ago, so number 1 is the newest. Their words are indexed, so full-text search finds them.
    """
    from memos_server.services.text_index import index_tokens

    return execute(
        database_url,
        """
        INSERT INTO memories (id, project_id, user_id, conversation_id, agent_id, kind, mode,
            memory_key, memory_value, memory_type, preference_type, reasoning, tags, confidence,
            status, embedding, source_message_ids, info, search_text, create_time, update_time)
        SELECT gen_random_uuid(), CAST(:project AS uuid), :user_id, 'bulk', :agent_id, :kind,
            'fast', :text || ' ' || g, :text || ' ' || g, :memory_type, :preference_type, '',
            '{}', 1.0, :status, v.vector, '{}', '{}', :tokens || ' ' || g,
            now() - CAST(:step AS int) * g * interval '1 second',
            now() - CAST(:step AS int) * g * interval '1 second'
        FROM generate_series(1, CAST(:count AS int)) AS g,
            (SELECT array_fill(0.05::real, ARRAY[value::int])::vector AS vector
             FROM service_meta WHERE key = 'embedding_dimension') AS v
        """,
        project=project_of(database_url, api_key),
        user_id=user_id,
        agent_id=agent_id,
        kind=kind,
        text=text,
        memory_type=memory_type,
        preference_type=preference_type,
        status=status,
        tokens=index_tokens(text),
        step=0 if same_time else 1,
        count=count,
    )


class ServiceProcess:
    """``memos-server <command>`` as its own process, as a user or an orchestrator runs it."""

    def __init__(self, workdir: Path, *command: str, **env: str) -> None:
        import os

        self.workdir = workdir
        self.command = command or ("serve",)
        self.port = free_port()
        self.log = workdir / f"{'-'.join(self.command)}-{self.port}.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
        self.env.update(
            {
                "MEMOS_SERVER__PORT": str(self.port),
                "MEMOS_EMBEDDING__CACHE_DIR": str(MODEL_CACHE),
                **env,
            }
        )
        self.process: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    def start(self, *, wait_ready: bool = True) -> ServiceProcess:
        import subprocess
        import sys

        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "memos_server", *self.command],
                cwd=self.workdir,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, "not ready in time:\n" + self.output()
            if self.command[0] == "worker":
                if "worker " in self.output() and " started" in self.output():
                    return
            else:
                try:
                    if httpx.get(f"http://127.0.0.1:{self.port}/readyz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            time.sleep(0.2)

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout_s: float = 60) -> int:
        code: int = self.process.wait(timeout=timeout_s)
        return code

    def stop(self) -> None:
        """SIGTERM (so an embedded Postgres is stopped too), then SIGKILL if it hangs."""
        import subprocess

        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_until(condition: Any, timeout_s: float = 60, what: str = "condition") -> Any:
    """Poll ``condition()`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def fresh_database(server_url: str) -> str:
    """A new, empty database on the same Postgres server; its URL."""
    from sqlalchemy.engine import make_url

    name = f"t_{uuid.uuid4().hex[:12]}"
    sql_autocommit(server_url, f'CREATE DATABASE "{name}"')
    url: str = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    return url


def sql_autocommit(database_url: str, statement: str) -> None:
    from sqlalchemy import text

    async def run() -> None:
        database = Database(database_url, DatabaseSettings(pool_size=1, max_overflow=0))
        try:
            async with database.engine.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text(statement))
        finally:
            await database.dispose()

    asyncio.run(run())
