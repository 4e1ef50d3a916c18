"""Waiting for what the service does in the background (jobs, workers, retries)."""

from __future__ import annotations

import time
from typing import Any


def wait_until(condition: Any, timeout_s: float = 60, what: str = "condition") -> Any:
    """Poll ``condition()`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
