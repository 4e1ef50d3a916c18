"""The real app under uvicorn in a thread of the test process, and the settings it runs with."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import uvicorn

from memos_server.app import API_PREFIX, create_app
from memos_server.runtime import Runtime
from memos_server.settings import Settings
from tests.support.paths import MODEL_CACHE

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
