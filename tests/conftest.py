"""Shared fixtures: one real Postgres (pgserver) and one real service on a loopback port.

Every test gets a project of its own (a fresh API key), so tests never see each other's data:
the service's own tenant isolation is what keeps them apart.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from tests.fake_llm import FakeLLM
from tests.support.api import Api
from tests.support.database import new_api_key
from tests.support.service import ServiceThread, make_settings


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session")
def service(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceThread]:
    settings = make_settings(pg_url, tmp_path_factory.mktemp("data"))
    running = ServiceThread(settings)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def api_key(service: ServiceThread, pg_url: str) -> str:
    return new_api_key(pg_url)


@pytest.fixture
def api(service: ServiceThread, api_key: str) -> Iterator[Api]:
    client = Api(service.base_url, api_key)
    yield client
    client.close()


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLM]:
    server = FakeLLM()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fine_service(
    pg_url: str, fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceThread]:
    """A second service on the same database, with the scripted LLM configured: fine mode."""
    settings = make_settings(
        pg_url,
        tmp_path_factory.mktemp("fine-data"),
        llm={
            "base_url": fake_llm.base_url,
            "api_key": "test-llm-key",
            "model": "fake-model",
            "timeout_s": 1.0,
            "max_retries": 1,
        },
        # Retry a failed job once, quickly; a dead worker's job is retaken within seconds.
        jobs={"max_attempts": 2, "retry_base_s": 0.1, "lease_s": 3.0, "poll_interval_s": 0.2},
    )
    running = ServiceThread(settings)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def fine_api(fine_service: ServiceThread, pg_url: str, fake_llm: FakeLLM) -> Iterator[Api]:
    fake_llm.script({})
    with Api(fine_service.base_url, new_api_key(pg_url)) as client:
        yield client
