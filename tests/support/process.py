"""``memos-server <command>`` as its own process, as a user or an orchestrator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from memos_server.app import API_PREFIX
from tests.support.paths import MODEL_CACHE
from tests.support.service import free_port


class ServiceProcess:
    """``memos-server <command>`` as its own process, as a user or an orchestrator runs it."""

    def __init__(self, workdir: Path, *command: str, **env: str) -> None:
        self.workdir = workdir
        self.command = command or ("serve",)
        self.port = free_port()
        self.log = workdir / f"{'-'.join(self.command)}-{self.port}.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
        self.env.update(
            {
                "MEMOS_SERVER__PORT": str(self.port),
                "MEMOS_EMBEDDING__CACHE_DIR": str(MODEL_CACHE),
                # As for a service in the test process (``make_settings``): tests call faster
                # than any client should (a reindex test's four threads of adds passed 50/s on a
                # fast machine and were refused); the limits have tests of their own.
                "MEMOS_LIMITS__RATE_PER_KEY": "0",
                "MEMOS_LIMITS__FAILED_KEYS_PER_MINUTE": "0",
                **env,
            }
        )
        self.process: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    def start(self, *, wait_ready: bool = True) -> ServiceProcess:
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
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
