"""Every example in ``/openapi.json`` is valid against the schema it illustrates.

Examples are what a reader of ``/docs`` copies first, and what Swagger UI's "Try it out" sends:
one the service would refuse teaches the wrong request. The walk finds them wherever OpenAPI
3.1 allows them (a schema's ``examples`` or ``example`` at any depth, a media type's, a
parameter's or a header's ``example`` and ``examples``) and checks that it found every one in
the document, so an example put somewhere new is checked too, not skipped. References are
resolved against the document itself (JSON Schema 2020-12, formats checked).

The schema is read from the app without starting it (no database, no model): ``/openapi.json``
does not need them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
import pytest
from starlette.testclient import TestClient

from memos_server.app import API_PREFIX, create_app
from tests.support.service import make_settings

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Where a schema holds other schemas (JSON Schema 2020-12), by the shape of the slot.
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SCHEMA_ONE = (
    "items",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "propertyNames",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "contentSchema",
)
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Example:
    where: str  # JSON pointer of the example's key (``.../examples``, ``.../example``)
    schema: str  # JSON pointer of the schema it must satisfy
    value: Any


def pointer(*parts: str | int) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def schema_examples(schema: Any, at: str) -> Iterator[Example]:
    if not isinstance(schema, dict):
        return
    if "example" in schema:
        yield Example(f"{at}/example", at, schema["example"])
    for value in schema.get("examples", []):
        yield Example(f"{at}/examples", at, value)
    for key in SCHEMA_MAPS:
        for name, sub in schema.get(key, {}).items():
            yield from schema_examples(sub, at + pointer(key, name))
    for key in SCHEMA_LISTS:
        for i, sub in enumerate(schema.get(key, [])):
            yield from schema_examples(sub, at + pointer(key, i))
    for key in SCHEMA_ONE:
        yield from schema_examples(schema.get(key), at + pointer(key))


def server_sent_events(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.strip("\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append(fields)
    return events


def with_schema_examples(
    holder: dict[str, Any], at: str, media_type: str = ""
) -> Iterator[Example]:
    """A media type, parameter or header: its own examples, and those inside its schema."""
    key = "itemSchema" if "itemSchema" in holder else "schema"
    schema_at = at + pointer(key)
    values = [holder["example"]] if "example" in holder else []
    values += [e["value"] for e in holder.get("examples", {}).values() if "value" in e]
    for name in ("example", "examples"):
        if name in holder:
            where = f"{at}/{name}"
            for value in values:
                if key == "itemSchema" and media_type == "text/event-stream":
                    # A stream's example is the stream; each event must be an item.
                    for event in server_sent_events(value):
                        yield Example(where, schema_at, event)
                else:
                    yield Example(where, schema_at, value)
            values = []  # each value once, whichever key carried it
    yield from schema_examples(holder.get(key), schema_at)
    for name, media in holder.get("content", {}).items():
        yield from with_schema_examples(media, at + pointer("content", name), name)


def document_examples(spec: dict[str, Any]) -> Iterator[Example]:
    components = spec.get("components", {})
    # Kinds this walk does not visit must not appear (FastAPI writes none of them).
    assert set(components) <= {"schemas", "securitySchemes"}, set(components)
    for name, schema in components.get("schemas", {}).items():
        yield from schema_examples(schema, pointer("components", "schemas", name))
    for path, item in spec["paths"].items():
        for i, parameter in enumerate(item.get("parameters", [])):
            yield from with_schema_examples(parameter, pointer("paths", path, "parameters", i))
        for method in METHODS:
            if method not in item:
                continue
            at = pointer("paths", path, method)
            operation = item[method]
            for i, parameter in enumerate(operation.get("parameters", [])):
                yield from with_schema_examples(parameter, at + pointer("parameters", i))
            if "requestBody" in operation:
                yield from with_schema_examples(operation["requestBody"], at + "/requestBody")
            for status, response in operation.get("responses", {}).items():
                where = at + pointer("responses", status)
                yield from with_schema_examples(response, where)
                for name, header in response.get("headers", {}).items():
                    yield from with_schema_examples(header, where + pointer("headers", name))


def every_example_key(node: Any, at: str = "", in_map: bool = False) -> Iterator[str]:
    """Every ``example``/``examples`` key in the document, however reached (a property *named*
    ``examples`` is not one)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("example", "examples") and not in_map:
                yield f"{at}{pointer(key)}"
            yield from every_example_key(value, at + pointer(key), key in SCHEMA_MAPS)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from every_example_key(value, at + pointer(i))


def json_contents(schema: Any, instance: Any, resolve: Any) -> Iterator[tuple[Any, Any]]:
    """Strings that carry JSON (``contentMediaType``) with their ``contentSchema``: JSON Schema
    only annotates them, so they are checked here."""
    if not isinstance(schema, dict):
        return
    schema = resolve(schema)
    if isinstance(instance, str) and schema.get("contentMediaType") == "application/json":
        yield schema.get("contentSchema", {}), json.loads(instance)
    if isinstance(instance, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in instance:
                yield from json_contents(sub, instance[name], resolve)


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # Never connected to: the app is not started, only asked for its schema.
    settings = make_settings("postgresql://unused@127.0.0.1:9/unused", tmp_path_factory.mktemp("d"))
    response = TestClient(create_app(settings)).get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def validator(spec: dict[str, Any], schema: dict[str, Any] | str) -> Any:
    """A 2020-12 validator for ``schema`` (a pointer into the document, or a schema whose refs
    point into it)."""
    root = {"$ref": "#" + schema} if isinstance(schema, str) else dict(schema)
    root.update(components=spec["components"], paths=spec["paths"])
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)


def at_pointer(spec: dict[str, Any], at: str) -> Any:
    node: Any = spec
    for part in at.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def test_every_example_is_valid_against_its_schema(spec: dict[str, Any]) -> None:
    examples = list(document_examples(spec))

    def resolve(schema: dict[str, Any]) -> Any:
        while "$ref" in schema:
            schema = at_pointer(spec, schema["$ref"].removeprefix("#"))
        return schema

    problems = []
    for example in examples:
        checks = [(example.schema, example.value)]
        checks += json_contents(at_pointer(spec, example.schema), example.value, resolve)
        for schema, value in checks:
            for error in validator(spec, schema).iter_errors(value):
                problems.append(f"{example.where}: {error.message} at {list(error.instance_path)}")
    assert not problems, "\n".join(problems)
    # The walk saw every example in the document.
    assert {e.where for e in examples} == set(every_example_key(spec))


def test_the_main_requests_have_examples_in_chinese_and_english(spec: dict[str, Any]) -> None:
    for schema in ("AddMessageRequest", "SearchMemoryRequest"):
        texts = [
            json.dumps(e.value, ensure_ascii=False)
            for e in schema_examples(spec["components"]["schemas"][schema], "")
            if e.where == "/examples"
        ]
        assert any(CJK.search(text) for text in texts), schema
        assert any(not CJK.search(text) for text in texts), schema


def test_the_main_answers_have_examples(spec: dict[str, Any]) -> None:
    for endpoint in ("/add/message", "/search/memory"):
        operation = spec["paths"][API_PREFIX + endpoint]["post"]
        media = operation["responses"]["200"]["content"]["application/json"]
        assert media.get("examples") or media.get("example"), endpoint


def test_a_wrong_example_is_caught(spec: dict[str, Any]) -> None:
    """The check itself: an example the service would refuse fails it."""
    wrong = {"user_id": "u", "messages": [{"role": "narrator", "content": "hi"}]}
    errors = list(validator(spec, "/components/schemas/AddMessageRequest").iter_errors(wrong))
    assert errors
