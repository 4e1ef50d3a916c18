"""The deployment files read as text: Dockerfile, docker-compose.yml (and its scale-out
variant), .env.example, .dockerignore, pyproject.toml and the Makefile, parsed without a Docker
engine or network, and the settings they name (``memos_server.settings.Settings``) walked by
dotted path and environment variable.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tomllib
from collections.abc import Mapping
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from memos_server.settings import ServerSettings, Settings
from tests.support.paths import ROOT

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCALE_FILE = ROOT / "docker-compose.scale.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = ROOT / "pyproject.toml"

ENV_PREFIX = str(Settings.model_config["env_prefix"])  # "MEMOS_"
NESTED_DELIMITER = str(Settings.model_config["env_nested_delimiter"])  # "__"
MEMOS_VARIABLE = re.compile(rf"\b{ENV_PREFIX}[A-Z][A-Z0-9_]*")

# What the app serves without auth: /healthz (process up), /readyz (database and model ready).
HEALTH_PATHS = frozenset({"/healthz", "/readyz"})
READY_PATH = "/readyz"
PGVECTOR_IMAGE = "pgvector/pgvector:pg16"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
APP_WORKDIR = "/app"


# ----------------------------------------------------------------------------- settings


def _group_model(field: FieldInfo) -> type[BaseModel] | None:
    """The nested settings model of a group field (``database``, ``llm``...), else None."""
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def setting_fields(
    model: type[BaseModel] = Settings, prefix: tuple[str, ...] = ()
) -> dict[str, FieldInfo]:
    """Every leaf setting by dotted path: ``api_key``, ``database.url``, ``server.port``..."""
    fields: dict[str, FieldInfo] = {}
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        group = _group_model(field)
        if group is None:
            fields[".".join(path)] = field
        else:
            fields.update(setting_fields(group, path))
    return fields


SETTINGS = setting_fields()


def setting_path(variable: str) -> str:
    """``MEMOS_DATABASE__URL`` -> ``database.url``; ``MEMOS_API_KEY`` -> ``api_key``."""
    assert variable.startswith(ENV_PREFIX), variable
    return ".".join(variable.removeprefix(ENV_PREFIX).lower().split(NESTED_DELIMITER))


def env_variable(path: str) -> str:
    """``database.url`` -> ``MEMOS_DATABASE__URL``."""
    return ENV_PREFIX + NESTED_DELIMITER.join(path.split(".")).upper()


def is_setting(variable: str) -> bool:
    return setting_path(variable) in SETTINGS


def settings_from(environment: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """``Settings`` built from exactly these variables (no process environment, no .env)."""
    for name in [name for name in os.environ if name.upper().startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


# ----------------------------------------------------------------------------- .env.example

# `MEMOS_X=1` or, for settings unset by default, `# MEMOS_X=example`.
ASSIGNMENT = re.compile(r"^(?P<comment>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


def env_example_lines() -> list[str]:
    return ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()


def env_example_assignments() -> dict[str, tuple[bool, str]]:
    """Variable -> (commented out?, value) for every assignment line, commented or not."""
    assignments: dict[str, tuple[bool, str]] = {}
    for line in env_example_lines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            name = match["name"]
            assert name not in assignments, f"{name} is assigned twice in .env.example"
            assignments[name] = (match["comment"] is not None, match["value"])
    return assignments


def env_example_values(*, include_commented: bool = False) -> dict[str, str]:
    return {
        name: value
        for name, (commented, value) in env_example_assignments().items()
        if include_commented or not commented
    }


# ----------------------------------------------------------------------------- compose

COMPOSE_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def service(name: str) -> dict[str, Any]:
    services: dict[str, dict[str, Any]] = compose()["services"]
    assert name in services, f"docker-compose.yml has no {name!r} service"
    return services[name]


def db_service_name() -> str:
    names = [
        str(name)
        for name, svc in compose()["services"].items()
        if svc.get("image") == PGVECTOR_IMAGE
    ]
    assert len(names) == 1, f"expected one service with image {PGVECTOR_IMAGE}, got {names}"
    return names[0]


def app_service_name() -> str:
    names = [str(name) for name, svc in compose()["services"].items() if "build" in svc]
    assert len(names) == 1, f"expected one service built from the Dockerfile, got {names}"
    return names[0]


def service_environment(svc: Mapping[str, Any]) -> dict[str, str]:
    """A service's ``environment`` (mapping or list form) as strings."""
    environment = svc.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    return {name: "" if value is None else str(value) for name, value in environment.items()}


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` substitution."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"] or "", match["arg"] or ""
        value = variables.get(name)
        is_set = value is not None and (value != "" or not op.startswith(":"))
        if is_set:
            return value or ""
        if op.endswith("?"):
            raise ValueError(f"{name}: {arg}")
        return arg if op.endswith("-") else ""

    return COMPOSE_VARIABLE.sub(substitute, value).replace("$$", "$")


def healthcheck_command(svc: Mapping[str, Any]) -> str:
    test = svc["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else str(test)


def published_ports(svc: Mapping[str, Any]) -> list[tuple[int | None, int]]:
    """(host port, container port) pairs from short (``[ip:]host:container``) or long syntax."""
    pairs: list[tuple[int | None, int]] = []
    for entry in svc.get("ports", []):
        if isinstance(entry, dict):
            published = entry.get("published")
            pairs.append((int(published) if published else None, int(entry["target"])))
            continue
        *host, container = str(entry).split("/")[0].split(":")
        pairs.append((int(host[-1]) if host and host[-1] else None, int(container)))
    return pairs


# ----------------------------------------------------------------------------- Dockerfile

Instruction = tuple[str, str]  # (KEYWORD, arguments)


def dockerfile_instructions() -> list[Instruction]:
    """Instructions with comments dropped and ``\\`` continuation lines joined."""
    instructions: list[Instruction] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "Dockerfile ends in a continuation line"
    return instructions


def dockerfile_stages() -> list[list[Instruction]]:
    """Instructions grouped by stage; each stage starts with its FROM."""
    stages: list[list[Instruction]] = []
    for keyword, arguments in dockerfile_instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, arguments))
    return stages


def runtime_stage() -> list[Instruction]:
    return dockerfile_stages()[-1]


def arguments_of(keyword: str, instructions: list[Instruction]) -> list[str]:
    return [arguments for kw, arguments in instructions if kw == keyword]


def dockerfile_env(instructions: list[Instruction]) -> dict[str, str]:
    """Variables set by ``ENV key=value ...`` instructions."""
    env: dict[str, str] = {}
    for arguments in arguments_of("ENV", instructions):
        for item in shlex.split(arguments):
            name, sep, value = item.partition("=")
            assert sep, f"use ENV key=value, not the legacy form: ENV {arguments}"
            env[name] = value
    return env


def copy_sources(arguments: str) -> list[str]:
    """Source paths of a COPY (flags such as ``--from``/``--chown`` and the destination dropped)."""
    parts: list[str]
    if arguments.startswith("["):
        parts = json.loads(arguments)
    else:
        parts = [part for part in shlex.split(arguments) if not part.startswith("--")]
    return parts[:-1]


def pyproject_torch_pin() -> str:
    """The torch version of the ``torch`` extra (the base dependencies carry no torch)."""
    pyproject = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    dependencies: list[str] = pyproject["project"]["optional-dependencies"]["torch"]
    pins = [dep.split("==", 1)[1] for dep in dependencies if re.match(r"torch\s*==", dep)]
    assert len(pins) == 1, "the torch extra must pin torch with =="
    return pins[0].strip()


# ----------------------------------------------------------------------------- the app container


def app_environment() -> dict[str, str]:
    """The app container's environment: the image's ENV overridden by compose's environment."""
    interpolated = {
        name: interpolate(value, {"MEMOS_API_KEY": "test-key"})
        for name, value in service_environment(service(app_service_name())).items()
    }
    return {**dockerfile_env(runtime_stage()), **interpolated}


def listen_port(environment: Mapping[str, str]) -> int:
    """The port the app listens on with this environment (unset: the settings default)."""
    raw = environment.get(env_variable("server.port"))
    return ServerSettings.model_validate({"port": raw} if raw else {}).port


# ----------------------------------------------------------------------------- scale-out


def scale_services() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SCALE_FILE.read_text(encoding="utf-8"))
    services: dict[str, Any] = data["services"]
    return services


# ----------------------------------------------------------------------------- Makefile


def make_dry_run(*arguments: str) -> list[str]:
    """The commands ``make -n`` would run, in a fresh (absent) venv."""
    done = subprocess.run(
        ["make", "-n", "-C", str(ROOT), "VENV=/nonexistent/venv", *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return [line for line in done.stdout.splitlines() if not line.startswith("make")]
