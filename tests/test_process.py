"""The service as a user runs it: its own process, the embedded Postgres, restarts."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.api import Api
from tests.support.conversations import SEED_FAMILY_TRIP
from tests.support.process import ServiceProcess

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


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    """Every process of a Postgres serving ``data_dir`` (a postmaster works in its data dir)."""
    pgdata = (data_dir / "postgres").resolve()
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if Path(process.cwd()) == pgdata:
                found.append(process)
    return found


def kill_postgres(data_dir: Path) -> None:
    """Clean-up of a test that failed half-way: no Postgres outlives it."""
    processes = postgres_processes(data_dir)
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(processes, timeout=10)


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0])


@pytest.mark.slow
def test_hardening_14_postgres_left_by_a_killed_service_is_stopped_by_the_next(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    killed = ServiceProcess(tmp_path, MEMOS_DATA_DIR=str(data_dir))
    try:
        killed.start()
        [key] = set(KEY.findall(killed.output()))
        orphan = postmaster_pid(data_dir)
        killed.signal(signal.SIGKILL)
        assert killed.wait() == -signal.SIGKILL
        assert psutil.pid_exists(orphan), "SIGKILL does not stop Postgres: nothing to take over"

        # Up again over the orphaned Postgres and the killed holder's bookkeeping; SIGTERM then
        # stops Postgres as it would have without the SIGKILL.
        with running_service(data_dir) as service, Api(service.base_url, key) as api:
            api.ok("/get/message", {"user_id": "u", "conversation_id": "c"})
        assert not psutil.pid_exists(orphan) or psutil.Process(orphan).status() == "zombie"
        assert not (data_dir / "postgres" / "postmaster.pid").exists()
        assert not postgres_processes(data_dir)

        # And once more, from a clean stop: nothing stale is left to trip over.
        with running_service(data_dir) as service, Api(service.base_url, key) as api:
            api.ok("/get/message", {"user_id": "u", "conversation_id": "c"})
        assert not postgres_processes(data_dir)
    finally:
        killed.stop()
        kill_postgres(data_dir)


@pytest.mark.slow
def test_hardening_14_a_stale_postmaster_pid_naming_another_process_is_ignored(
    tmp_path: Path,
) -> None:
    """A ``postmaster.pid`` whose pid now belongs to another process (a restarted container
    reuses pids) is stale: the service starts its own Postgres and stops it again."""
    data_dir = tmp_path / "data"
    with running_service(data_dir):
        pass
    stranger = subprocess.Popen(["sleep", "120"])
    pid_file = data_dir / "postgres" / "postmaster.pid"
    try:
        # postmaster.pid's eight lines: pid, data dir, start time, port, socket dir, host,
        # shared memory, status.
        pgdata = str(data_dir / "postgres")
        lines = [str(stranger.pid), pgdata, "1700000000", "5432", pgdata, "", "", "ready"]
        pid_file.write_text("\n".join(lines) + "\n")
        holders = data_dir / "postgres" / ".handle_pids.json"
        holders.write_text(json.dumps([stranger.pid]))
        with running_service(data_dir) as service:
            assert postmaster_pid(data_dir) != stranger.pid
            assert httpx.get(f"http://127.0.0.1:{service.port}/readyz").status_code == 200
        assert stranger.poll() is None, "a process that is not our Postgres was signalled"
        assert not postgres_processes(data_dir)
        assert not pid_file.exists()
    finally:
        stranger.kill()
        stranger.wait()
        kill_postgres(data_dir)


def refused_at_start(service: ServiceProcess, data_dir: Path) -> str:
    """What a ``memos-server`` refused before starting anything printed (it exits on its own)."""
    try:
        service.start(wait_ready=False)
        code = service.wait(timeout_s=60)
    finally:
        service.stop()
    printed = service.output()
    assert "memos-server ready" not in printed
    assert not (data_dir / "postgres").exists(), "Postgres was started before the refusal"
    assert len(printed.strip().splitlines()) == 1, printed
    return f"{code}: {printed.strip()}"


@pytest.mark.slow
def test_hardening_15_memos_api_key_is_stored_only_in_a_database_without_keys(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    first = "first-bootstrap-key-0123456789"
    later = "a-later-memos-api-key-0123456789"
    with running_service(data_dir, MEMOS_API_KEY=first) as service:
        assert "bootstrap key: MEMOS_API_KEY stored for project 'default'" in service.output()
    with running_service(data_dir, MEMOS_API_KEY=later) as service:
        printed = service.output()
        assert "bootstrap key: MEMOS_API_KEY not used" in printed
        assert later not in printed
        assert first not in printed
        with Api(service.base_url, later) as api:
            api.fails("/get/message", {"user_id": "u", "conversation_id": "c"}, 401, 40132)
        with Api(service.base_url, first) as api:
            api.ok("/get/message", {"user_id": "u", "conversation_id": "c"})
    with running_service(data_dir, MEMOS_API_KEY=first) as service:
        assert "(MEMOS_API_KEY is one of them)" in service.output()

    # Too short, or not sendable in a header: refused before anything starts, whatever the
    # database holds.
    for key, why in (
        ("abc", "MEMOS_API_KEY is 3 characters; a key needs at least 24"),
        ("我的密钥" * 8, "MEMOS_API_KEY may hold only visible ASCII characters"),
        ("with spaces in the key 0123456789", "MEMOS_API_KEY may hold only visible ASCII"),
    ):
        fresh = tmp_path / f"fresh-{len(key)}"
        service = ServiceProcess(tmp_path, MEMOS_DATA_DIR=str(fresh), MEMOS_API_KEY=key)
        refusal = refused_at_start(service, fresh)
        assert refusal.startswith(f"1: memos-server: {why}"), refusal
        assert key not in refusal


@pytest.mark.slow
@pytest.mark.parametrize("command", [("serve",), ("serve", "--workers", "2")])
def test_hardening_15_a_busy_port_is_one_error_line_and_exit_code_4(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    data_dir = tmp_path / "data"
    service = ServiceProcess(tmp_path, *command, MEMOS_DATA_DIR=str(data_dir))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", service.port))
        taken.listen()
        refusal = refused_at_start(service, data_dir)
    assert refusal == (
        f"4: memos-server: port {service.port} on 127.0.0.1 is already in use (another "
        "memos-server?): stop that process or choose another port (--port, MEMOS_SERVER__PORT)"
    )
