"""The admin API (/admin/v1): projects and keys over HTTP, behind MEMOS_ADMIN_KEY."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from tests.support.api import Api
from tests.support.conversations import SEED_HOTEL
from tests.support.database import new_api_key
from tests.support.service import ADMIN_KEY, ServiceThread


@pytest.fixture
def admin(service: ServiceThread) -> Iterator[Api]:
    with Api(service.base_url.removesuffix("/api/openmem/v1") + "/admin/v1", ADMIN_KEY) as client:
        yield client


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def test_a_project_and_its_key_made_over_http_work_at_once(
    admin: Api, service: ServiceThread
) -> None:
    name = unique("admin-made")
    project = admin.ok("/projects", {"name": name})
    assert project["created"] is True
    assert admin.ok("/projects", {"name": name}) == {**project, "created": False}

    made = admin.ok("/keys", {"project": name, "name": "backend"})
    assert made["key"].startswith(made["prefix"])
    assert made["project"] == name
    with Api(service.base_url, made["key"]) as client:
        client.ok("/add/message", {"user_id": "u", "conversation_id": "c", "messages": SEED_HOTEL})

    [listed] = admin.data_of(admin.get(f"/keys?project={name}"))
    assert listed["prefix"] == made["prefix"]
    assert listed["name"] == "backend"
    assert listed["last_used_at"] is not None
    assert listed["revoked_at"] is None
    assert made["key"] not in admin.get(f"/keys?project={name}").text

    projects = {p["name"]: p for p in admin.data_of(admin.get("/projects"))}
    assert projects[name]["active_keys"] == 1


def test_a_revoked_key_fails_on_its_very_next_request(admin: Api, service: ServiceThread) -> None:
    name = unique("revoking")
    key = admin.ok("/keys", {"project": name})
    body = {"user_id": "u", "conversation_id": "c"}
    with Api(service.base_url, key["key"]) as client:
        client.ok("/get/message", body)
        assert admin.ok("/keys/revoke", {"prefix": key["prefix"]}) == {"revoked": 1}
        assert client.fails("/get/message", body, 401, 40132) == "API key invalid or revoked"
        client.error_of(client.get(f"/get/memory/{uuid.uuid4()}"), 401, 40132)
    [listed] = admin.data_of(admin.get(f"/keys?project={name}"))
    assert listed["revoked_at"] is not None
    admin.fails("/keys/revoke", {"prefix": key["prefix"]}, 404, 40001)  # already revoked


def test_unknown_names_are_not_found(admin: Api) -> None:
    assert "nobody" in admin.error_of(admin.get("/keys?project=nobody-here"), 404, 40001)
    assert "mk-nothing" in admin.fails("/keys/revoke", {"prefix": "mk-nothing"}, 404, 40001)


def test_only_the_admin_key_opens_it(service: ServiceThread, pg_url: str) -> None:
    root = service.base_url.removesuffix("/api/openmem/v1") + "/admin/v1"
    with Api(root, None) as anonymous:
        anonymous.error_of(anonymous.get("/projects"), 401, 40100)
    with Api(root, "admin-wrong") as wrong:
        assert wrong.fails("/keys", {"project": "p"}, 401, 40132) == "not the admin key"
    with Api(root, new_api_key(pg_url)) as project_key:
        project_key.error_of(project_key.get("/projects"), 401, 40132)


def test_without_an_admin_key_it_is_off(
    admin: Api, service: ServiceThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service.runtime.settings, "admin_key", None)
    message = admin.error_of(admin.get("/projects"), 403, 40100)
    assert "MEMOS_ADMIN_KEY" in message
    monkeypatch.setattr(service.runtime.settings, "admin_key", SecretStr(""))
    admin.error_of(admin.get("/projects"), 403, 40100)


@pytest.mark.parametrize(
    ("body", "code"),
    [({}, 40002), ({"name": ""}, 40002), ({"name": "p" * 101}, 40305), ({"name": 5}, 40000)],
)
def test_bad_project_names_are_refused(admin: Api, body: object, code: int) -> None:
    admin.fails("/projects", body, 413 if code == 40305 else 400, code)


def test_the_admin_api_is_in_the_openapi_schema(service: ServiceThread) -> None:
    root = service.base_url.removesuffix("/api/openmem/v1")
    paths = httpx.get(f"{root}/openapi.json").json()["paths"]
    assert {"/admin/v1/projects", "/admin/v1/keys", "/admin/v1/keys/revoke"} <= set(paths)


def test_a_wrong_method_names_every_method_of_the_path(admin: Api) -> None:
    refused = admin.http.request("DELETE", "/projects")
    assert admin.error_of(refused, 405, 40000) == "DELETE is not allowed here; use GET, POST"
    assert refused.headers["Allow"] == "GET, POST"
