"""/docs shows every endpoint with its request and response models and an example."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import ServiceThread

ENDPOINTS = (
    "/add/message",
    "/search/memory",
    "/get/message",
    "/get/status",
    "/get/memory",
    "/delete/memory",
    "/update/memory",
    "/add/feedback",
    "/chat",
)


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_endpoint_is_documented(service: ServiceThread) -> None:
    root = service.base_url.removesuffix("/api/openmem/v1")
    assert httpx.get(f"{root}/docs").status_code == 200
    spec = httpx.get(f"{root}/openapi.json").json()

    for endpoint in ENDPOINTS:
        operation = spec["paths"][f"/api/openmem/v1{endpoint}"]["post"]
        assert operation["description"], endpoint  # the route's docstring
        request = resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"])
        assert request.get("examples"), f"{endpoint} has no request example"
        success = resolve(
            spec, operation["responses"]["200"]["content"]["application/json"]["schema"]
        )
        assert {"code", "message", "data"} <= set(success["properties"])
        for status in ("400", "401", "413"):
            error = operation["responses"][status]["content"]["application/json"]["schema"]
            assert resolve(spec, error)["title"] == "ErrorEnvelope"


def test_reading_one_memory_is_documented(service: ServiceThread) -> None:
    root = service.base_url.removesuffix("/api/openmem/v1")
    spec = httpx.get(f"{root}/openapi.json").json()

    operation = spec["paths"]["/api/openmem/v1/get/memory/{memory_id}"]["get"]
    assert operation["description"]
    success = resolve(spec, operation["responses"]["200"]["content"]["application/json"]["schema"])
    assert {"code", "message", "data"} <= set(success["properties"])
    error = operation["responses"]["404"]["content"]["application/json"]["schema"]
    assert resolve(spec, error)["title"] == "ErrorEnvelope"
