"""The service as a user runs it: its own process, the embedded Postgres, restarts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support import SEED_FAMILY_TRIP, Api, free_port

KEY = re.compile(r"mk-[A-Za-z0-9_-]{43}")


@contextmanager
def running_service(data_dir: Path, log: Path, **env: str) -> Iterator[str]:
    """``memos-server serve`` with the embedded Postgres in ``data_dir``; yields the base URL."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    environment.update({"MEMOS_DATA_DIR": str(data_dir), "MEMOS_SERVER__PORT": str(port), **env})
    with log.open("a") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "memos_server", "serve"],
            cwd=data_dir.parent,  # no .env of the checkout is read
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "not ready after 180 s"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        yield f"http://127.0.0.1:{port}/api/openmem/v1"
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down cleanly, then re-raises SIGTERM so the exit status tells why.
        assert process.wait(timeout=60) in (0, -signal.SIGTERM), log.read_text()[-3000:]
        assert log.read_text().rstrip().endswith(f"Finished server process [{process.pid}]")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_first_start_prints_a_key_and_memories_survive_a_restart(tmp_path: Path) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "service.log"

    with running_service(data_dir, log) as base_url:
        printed = log.read_text()
        [key] = set(KEY.findall(printed))
        assert f"MEMOS_BASE_URL={base_url.replace('127.0.0.1', 'localhost')}" in printed
        with Api(base_url, key) as api:
            api.ok(
                "/add/message",
                {"user_id": "u", "conversation_id": "0610", "messages": SEED_FAMILY_TRIP},
            )
    # The embedded Postgres went down with the service.
    assert not (data_dir / "postgres" / "postmaster.pid").exists()

    with running_service(data_dir, log) as base_url:
        assert set(KEY.findall(log.read_text())) == {key}, "a second key was printed"
        with Api(base_url, key) as api:
            found = api.ok("/search/memory", {"user_id": "u", "query": "全家旅行带孩子和老人"})
            assert any("带上孩子和老人" in m["memory_value"] for m in found["memory_detail_list"])
            history = api.ok("/get/message", {"user_id": "u", "conversation_id": "0610"})
            assert len(history["message_detail_list"]) == 6


@pytest.mark.slow
def test_memos_api_key_is_the_bootstrap_key(tmp_path: Path) -> None:
    chosen = "my-own-bootstrap-key-0123456789"
    log = tmp_path / "service.log"
    with running_service(tmp_path / "data", log, MEMOS_API_KEY=chosen) as base_url:
        assert chosen not in log.read_text()  # never echoed
        assert not KEY.findall(log.read_text())
        with Api(base_url, chosen) as api:
            api.ok("/get/message", {"user_id": "u", "conversation_id": "c"})
        with Api(base_url, "some-other-key") as api:
            api.fails("/get/message", {"user_id": "u", "conversation_id": "c"}, 401, 40132)
