"""An HTTP client for the service that knows the MemOS envelope."""

from __future__ import annotations

from typing import Any

import httpx


class Api:
    """An HTTP client for the service that knows the MemOS envelope."""

    def __init__(self, base_url: str, key: str | None) -> None:
        self.key = key
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
