"""/docs shows every endpoint with its request and response models and an example."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.service import ServiceThread

ENDPOINTS = (
    "/add/message",
    "/search/memory",
    "/get/message",
    "/get/status",
    "/get/memory",
    "/delete/memory",
    "/delete/user",
    "/delete/message",
    "/update/memory",
    "/add/feedback",
    "/chat",
    "/extract/memory",
    "/rerank",
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


def test_errors_auth_and_the_chat_stream_are_documented(service: ServiceThread) -> None:
    root = service.base_url.removesuffix("/api/openmem/v1")
    spec = httpx.get(f"{root}/openapi.json").json()

    assert spec["components"]["securitySchemes"]["Token"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Token <api key>` (`Bearer <api key>` works too).",
    }
    for endpoint in ENDPOINTS:
        operation = spec["paths"][f"/api/openmem/v1{endpoint}"]["post"]
        assert operation["security"] == [{"Token": []}]
        for status in ("429", "4XX", "500", "503"):
            error = operation["responses"][status]["content"]["application/json"]["schema"]
            assert resolve(spec, error)["title"] == "ErrorEnvelope"
        # Validation errors are 400s in the envelope, never FastAPI's 422 body.
        assert "422" not in operation["responses"]
    stream = spec["paths"]["/api/openmem/v1/chat"]["post"]["responses"]["200"]["content"]
    event = stream["text/event-stream"]["itemSchema"]["properties"]["data"]
    assert event["contentSchema"]["properties"]["type"]["enum"] == [
        "text",
        "reasoning",
        "error",
        "end",
    ]
    ready = spec["paths"]["/readyz"]["get"]["responses"]
    assert set(ready) == {"200", "503"}


def test_optional_fields_are_documented_as_nullable(service: ServiceThread) -> None:
    """The SDK sends null for every unset parameter; the schema says null is allowed."""
    root = service.base_url.removesuffix("/api/openmem/v1")
    schemas = httpx.get(f"{root}/openapi.json").json()["components"]["schemas"]

    search = schemas["SearchMemoryRequest"]["properties"]
    assert {"type": "null"} in search["memory_limit_number"]["anyOf"]
    assert {"type": "null"} in search["include_preference"]["anyOf"]
    assert "anyOf" not in search["query"]  # required: null is refused
    # user_id may give way to agent_id alone (the agent's memories of every user).
    assert "user_id" not in schemas["SearchMemoryRequest"]["required"]


def test_group_chat_fields_are_documented(service: ServiceThread) -> None:
    """user_id as a list, each message's role_id / role_name, and get/message returning them."""
    root = service.base_url.removesuffix("/api/openmem/v1")
    schemas = httpx.get(f"{root}/openapi.json").json()["components"]["schemas"]

    user_id = schemas["AddMessageRequest"]["properties"]["user_id"]
    assert {branch.get("type") for branch in user_id["anyOf"]} == {"string", "array"}
    assert "group chat" in user_id["description"]
    message = schemas["ChatMessage"]["properties"]
    assert {"role_id", "role_name"} <= set(message)
    assert "user_id" in message["role_id"]["description"]
    assert {"role_id", "role_name"} <= set(schemas["MessageDetail"]["properties"])
    agent_id = schemas["SearchMemoryRequest"]["properties"]["agent_id"]["description"]
    assert "alone (no user_id)" in agent_id


# Stable names for client generators and links into /redoc (#operation/<id>): changing one
# breaks them, so it is a decision, made here.
OPERATION_IDS = {
    ("POST", "/api/openmem/v1/add/message"): "add_message",
    ("POST", "/api/openmem/v1/get/message"): "get_message",
    ("POST", "/api/openmem/v1/search/memory"): "search_memory",
    ("POST", "/api/openmem/v1/get/memory"): "get_memory",
    ("GET", "/api/openmem/v1/get/memory/{memory_id}"): "get_memory_by_id",
    ("POST", "/api/openmem/v1/delete/memory"): "delete_memory",
    ("POST", "/api/openmem/v1/delete/user"): "delete_user",
    ("POST", "/api/openmem/v1/delete/message"): "delete_message",
    ("POST", "/api/openmem/v1/update/memory"): "update_memory",
    ("POST", "/api/openmem/v1/get/status"): "get_status",
    ("POST", "/api/openmem/v1/add/feedback"): "add_feedback",
    ("POST", "/api/openmem/v1/chat"): "chat",
    ("POST", "/api/openmem/v1/create/knowledgebase"): "create_knowledgebase",
    ("POST", "/api/openmem/v1/delete/knowledgebase"): "delete_knowledgebase",
    ("POST", "/api/openmem/v1/add/knowledgebase-file"): "add_knowledgebase_file",
    ("POST", "/api/openmem/v1/get/knowledgebase-file"): "get_knowledgebase_file",
    ("POST", "/api/openmem/v1/delete/knowledgebase-file"): "delete_knowledgebase_file",
    ("POST", "/api/openmem/v1/add/profile_template"): "add_profile_template",
    ("POST", "/api/openmem/v1/list/profile_template"): "list_profile_template",
    ("POST", "/api/openmem/v1/get/profile_template"): "get_profile_template",
    ("POST", "/api/openmem/v1/update/profile_template"): "update_profile_template",
    ("POST", "/api/openmem/v1/delete/profile_template"): "delete_profile_template",
    ("POST", "/api/openmem/v1/bind/profile_template"): "bind_profile_template",
    ("POST", "/api/openmem/v1/edit/profile"): "edit_profile",
    ("POST", "/api/openmem/v1/delete/profile"): "delete_profile",
    ("POST", "/api/openmem/v1/extract/memory"): "extract_memory",
    ("POST", "/api/openmem/v1/rerank"): "rerank",
    ("GET", "/api/openmem/v1/ping"): "ping",
    ("GET", "/api/openmem/v1/console/info"): "console_info",
    ("POST", "/api/openmem/v1/console/users"): "console_users",
    ("POST", "/api/openmem/v1/console/conversations"): "console_conversations",
    ("POST", "/api/openmem/v1/console/messages"): "console_messages",
    ("POST", "/api/openmem/v1/console/memories"): "console_memories",
    ("POST", "/api/openmem/v1/console/history"): "console_history",
    ("POST", "/api/openmem/v1/console/knowledgebases"): "console_knowledgebases",
    ("POST", "/api/openmem/v1/console/passages"): "console_passages",
    ("GET", "/admin/v1/projects"): "list_projects",
    ("POST", "/admin/v1/projects"): "create_project",
    ("POST", "/admin/v1/projects/ttl"): "set_project_ttl",
    ("GET", "/admin/v1/keys"): "list_keys",
    ("POST", "/admin/v1/keys"): "create_key",
    ("POST", "/admin/v1/keys/revoke"): "revoke_key",
    ("POST", "/admin/v1/deletions"): "find_deletions",
    ("GET", "/admin/v1/reindex"): "get_reindex",
    ("POST", "/admin/v1/reindex"): "start_reindex",
    ("GET", "/admin/v1/projects/{name}/export"): "export_project",
    ("POST", "/admin/v1/projects/{name}/import"): "import_project",
    ("GET", "/healthz"): "healthz",
    ("GET", "/readyz"): "readyz",
    ("GET", "/metrics"): "metrics",
}


def test_operations_read_like_a_reference(service: ServiceThread) -> None:
    """Stable snake_case operation ids, and summaries in sentence case written for the reader
    (not FastAPI's "Update Memory Route", made from the function's name)."""
    root = service.base_url.removesuffix("/api/openmem/v1")
    spec = httpx.get(f"{root}/openapi.json").json()
    operations = {
        (method.upper(), path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }

    assert {key: op["operationId"] for key, op in operations.items()} == OPERATION_IDS
    for key, operation in operations.items():
        first, *rest = operation["summary"].split()
        assert first[0].isupper(), key
        # Sentence case: later words capitalised only when they are acronyms (API).
        assert all(word.islower() or word.isupper() for word in rest), (key, operation["summary"])
        assert operation["summary"] != operation["operationId"].replace("_", " ").title(), key
        assert operation["description"], key  # the route's docstring
