"""The service as a user runs it: its own process, the embedded Postgres, restarts."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import SEED_FAMILY_TRIP, Api, ServiceProcess

KEY = re.compile(r"mk-[A-Za-z0-9_-]{43}")


@contextmanager
def running_service(data_dir: Path, **env: str) -> Iterator[ServiceProcess]:
    """``memos-server serve`` with the embedded Postgres in ``data_dir``, stopped by SIGTERM."""
    data_dir.mkdir(exist_ok=True)
    service = ServiceProcess(data_dir.parent, MEMOS_DATA_DIR=str(data_dir), **env).start()
    try:
        yield service
        service.signal(signal.SIGTERM)
        # uvicorn shuts down cleanly, then re-raises SIGTERM so the exit status tells why.
        assert service.wait() in (0, -signal.SIGTERM), service.output()[-3000:]
        last = json.loads(service.output().rstrip().splitlines()[-1])
        assert last["message"] == f"Finished server process [{service.process.pid}]"
    finally:
        service.stop()


@pytest.mark.slow
def test_first_start_prints_a_key_and_memories_survive_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    with running_service(data_dir) as service:
        base_url = service.base_url
        printed = service.output()
        [key] = set(KEY.findall(printed))
        assert f"MEMOS_BASE_URL={base_url.replace('127.0.0.1', 'localhost')}" in printed
        with Api(base_url, key) as api:
            api.ok(
                "/add/message",
                {"user_id": "u", "conversation_id": "0610", "messages": SEED_FAMILY_TRIP},
            )
    # The embedded Postgres went down with the service.
    assert not (data_dir / "postgres" / "postmaster.pid").exists()

    with running_service(data_dir) as service:
        assert not KEY.findall(service.output()), "a second key was printed"
        with Api(service.base_url, key) as api:
            found = api.ok("/search/memory", {"user_id": "u", "query": "全家旅行带孩子和老人"})
            assert any("带上孩子和老人" in m["memory_value"] for m in found["memory_detail_list"])
            history = api.ok("/get/message", {"user_id": "u", "conversation_id": "0610"})
            assert len(history["message_detail_list"]) == 6


@pytest.mark.slow
def test_memos_api_key_is_the_bootstrap_key(tmp_path: Path) -> None:
    chosen = "my-own-bootstrap-key-0123456789"
    with running_service(tmp_path / "data", MEMOS_API_KEY=chosen) as service:
        assert chosen not in service.output()  # never echoed
        assert not KEY.findall(service.output())
        with Api(service.base_url, chosen) as api:
            api.ok("/get/message", {"user_id": "u", "conversation_id": "c"})
        with Api(service.base_url, "some-other-key") as api:
            api.fails("/get/message", {"user_id": "u", "conversation_id": "c"}, 401, 40132)


@pytest.mark.slow
def test_several_api_processes_share_the_port_one_postgres_and_one_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    service = ServiceProcess(tmp_path, "serve", "--workers", "2", MEMOS_DATA_DIR=str(data_dir))
    service.start()
    try:
        printed = service.output()
        [key] = set(KEY.findall(printed))  # made once, by the parent
        assert printed.count("Started server process") == 2
        with Api(service.base_url, key) as api:
            for n in range(6):  # the kernel spreads connections over both processes
                api.ok(
                    "/add/message",
                    {
                        "user_id": "u",
                        "conversation_id": f"c{n}",
                        "messages": [{"role": "user", "content": f"I moved to city {n}."}],
                    },
                )
            found = api.ok("/search/memory", {"user_id": "u", "query": "Where did I move?"})
            assert len(found["memory_detail_list"]) == 6
        service.signal(signal.SIGTERM)
        service.wait()
        assert not (data_dir / "postgres" / "postmaster.pid").exists()
    finally:
        service.stop()
