"""The deployment files agree with the settings and with each other.

Dockerfile, docker-compose.yml and .env.example are parsed as text/YAML (by
``tests.support.deploy_files``) and checked against ``memos_server.settings.Settings``: no Docker
engine and no network needed.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.deploy_files import (
    APP_WORKDIR,
    ASSIGNMENT,
    COMPOSE_FILE,
    DOCKERFILE,
    DOCKERIGNORE,
    ENV_EXAMPLE,
    ENV_PREFIX,
    HEALTH_PATHS,
    MEMOS_VARIABLE,
    NESTED_DELIMITER,
    PGVECTOR_IMAGE,
    READY_PATH,
    SETTINGS,
    TORCH_CPU_INDEX,
    app_environment,
    app_service_name,
    arguments_of,
    compose,
    copy_sources,
    db_service_name,
    dockerfile_env,
    dockerfile_instructions,
    dockerfile_stages,
    env_example_assignments,
    env_example_lines,
    env_example_values,
    env_variable,
    healthcheck_command,
    interpolate,
    is_setting,
    listen_port,
    make_dry_run,
    published_ports,
    pyproject_torch_pin,
    runtime_stage,
    scale_services,
    service,
    service_environment,
    setting_fields,
    setting_path,
    settings_from,
)
from tests.support.paths import ROOT

# ============================================================================= tests: variables


@pytest.mark.parametrize("path", [DOCKERFILE, COMPOSE_FILE, ENV_EXAMPLE], ids=lambda p: p.name)
def test_every_memos_variable_is_a_setting(path: Path) -> None:
    variables = set(MEMOS_VARIABLE.findall(path.read_text(encoding="utf-8")))
    assert variables, f"{path.name} names no {ENV_PREFIX}* variable"
    unknown = sorted(name for name in variables if not is_setting(name))
    assert not unknown, f"{path.name} names variables that are no setting: {unknown}"


def test_setting_path_helper() -> None:
    assert setting_path("MEMOS_DATABASE__URL") == "database.url"
    assert setting_path("MEMOS_API_KEY") == "api_key"
    assert env_variable("llm.json_mode") == "MEMOS_LLM__JSON_MODE"
    assert is_setting("MEMOS_SERVER__PORT")
    assert not is_setting("MEMOS_SERVER")  # a group, not a setting
    assert not is_setting("MEMOS_SERVER_PORT")  # single underscore: no such top-level field
    assert not is_setting("MEMOS_DATABASE__NOPE")


# ============================================================================= tests: .env.example


def test_env_example_lists_every_setting() -> None:
    assignments = env_example_assignments()
    missing = sorted(
        env_variable(path) for path in SETTINGS if env_variable(path) not in assignments
    )
    assert not missing, f".env.example lacks: {missing}"


def test_env_example_comments_out_exactly_the_unset_settings() -> None:
    assignments = env_example_assignments()
    for path, field in SETTINGS.items():
        if env_variable(path) not in assignments:
            continue  # reported by test_env_example_lists_every_setting
        commented, _ = assignments[env_variable(path)]
        assert commented == (field.default is None), (
            f"{env_variable(path)}: settings without a default are commented out, others are not"
        )


def test_env_example_explains_every_assignment() -> None:
    lines = env_example_lines()
    for index, line in enumerate(lines):
        if ASSIGNMENT.match(line.strip()):
            previous = lines[index - 1].strip() if index else ""
            assert previous.startswith("#"), f"no comment line above: {line}"
            assert not ASSIGNMENT.match(previous), f"no explanation above: {line}"


def test_env_example_values_are_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    memos_values = {k: v for k, v in env_example_values().items() if k.startswith(ENV_PREFIX)}
    from_example = settings_from(memos_values, monkeypatch)
    assert from_example.model_dump() == settings_from({}, monkeypatch).model_dump()


def test_env_example_examples_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Uncommenting every example line still gives valid settings."""
    values = env_example_values(include_commented=True)
    memos_values = {k: v for k, v in values.items() if k.startswith(ENV_PREFIX)}
    settings = settings_from(memos_values, monkeypatch)
    assert settings.database.url is not None
    assert settings.llm.configured


def test_env_example_has_compose_variables() -> None:
    values = env_example_values()
    db_environment = service_environment(service(db_service_name()))
    for name in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"):
        assert name in values, f".env.example lacks {name}"
        # The .env.example value and compose's fallback agree.
        assert interpolate(db_environment[name], {}) == values[name]


# ============================================================================= tests: compose


def test_db_service() -> None:
    db = service(db_service_name())
    assert db["image"] == PGVECTOR_IMAGE
    assert "pg_isready" in healthcheck_command(db)
    volume_names = {str(volume).split(":")[0] for volume in db.get("volumes", [])}
    assert volume_names & set(compose().get("volumes") or {}), "the db needs a named volume"


def test_app_depends_on_a_healthy_db() -> None:
    depends_on = service(app_service_name())["depends_on"]
    assert isinstance(depends_on, dict), "use the long depends_on form with a condition"
    assert depends_on[db_service_name()]["condition"] == "service_healthy"


def test_app_environment_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    memos_values = {k: v for k, v in app_environment().items() if k.startswith(ENV_PREFIX)}
    settings = settings_from(memos_values, monkeypatch)
    assert settings.server.host == "0.0.0.0"  # noqa: S104 - inside a container
    assert settings.api_key is not None
    assert settings.database.url is not None


def test_app_requires_an_api_key() -> None:
    raw = service_environment(service(app_service_name()))["MEMOS_API_KEY"]
    with pytest.raises(ValueError, match="MEMOS_API_KEY"):
        interpolate(raw, {})


def test_database_url_points_at_the_db_service() -> None:
    raw = service_environment(service(app_service_name()))[env_variable("database.url")]
    url = urlsplit(interpolate(raw, {}))
    db_environment = {
        name: interpolate(value, {})
        for name, value in service_environment(service(db_service_name())).items()
    }
    assert url.scheme in ("postgresql", "postgres")
    assert url.hostname == db_service_name()
    assert url.port in (None, 5432)
    assert url.username == db_environment["POSTGRES_USER"]
    assert url.password == db_environment["POSTGRES_PASSWORD"]
    assert url.path.lstrip("/") == db_environment["POSTGRES_DB"]


def test_app_publishes_the_port_it_listens_on() -> None:
    port = listen_port(app_environment())
    container_ports = [container for _, container in published_ports(service(app_service_name()))]
    assert container_ports == [port]


def test_app_healthcheck_hits_readyz() -> None:
    command = healthcheck_command(service(app_service_name()))
    urls = re.findall(r"https?://[^\s'\"]+", command)
    assert len(urls) == 1, command
    url = urlsplit(urls[0])
    assert url.path in HEALTH_PATHS
    assert url.path == READY_PATH
    assert url.port == listen_port(app_environment())


def test_app_runs_migrations_then_serves() -> None:
    app = service(app_service_name())
    command = app["command"]
    command = " ".join(command) if isinstance(command, list) else command
    assert re.search(r"memos-server db upgrade\s*&&.*memos-server serve", command), command
    assert app.get("restart") == "unless-stopped"


# ============================================================================= tests: Dockerfile


def test_dockerfile_is_multi_stage() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    runtime_from = stages[-1][0][1]
    assert runtime_from.startswith("python:")
    assert "-slim" in runtime_from
    venv_copies = [a for a in arguments_of("COPY", stages[-1]) if "--from=" in a]
    assert any("/opt/venv" in arguments for arguments in venv_copies)


def test_dockerfile_installs_the_project_without_torch() -> None:
    runs = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "RUN"]
    assert not [run for run in runs if re.search(r"pip install .*\btorch\b", run)]
    project_runs = [run for run in runs if re.search(r"pip install\b.*\s\.(\s|$)", run)]
    assert project_runs, "install the project with `pip install .` (no extras: no torch)"
    assert any("find_spec('torch') is None" in run for run in runs), "prove torch is absent"
    # What the comment tells a user who wants the torch extra in the image.
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert f"torch=={pyproject_torch_pin()} --index-url {TORCH_CPU_INDEX}" in text


def test_makefile_installs_the_torch_extras_pin() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(rf"^TORCH_VERSION := {re.escape(pyproject_torch_pin())}$", makefile, re.M)
    assert pyproject_torch_pin() == "2.13.0"


def test_dockerfile_runs_as_non_root() -> None:
    users = arguments_of("USER", runtime_stage())
    assert users, "the runtime stage needs a USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    if not user.isdigit():
        assert any(
            re.search(rf"useradd\b.*\b{user}\b", run)
            for run in arguments_of("RUN", runtime_stage())
        )


def test_dockerfile_environment() -> None:
    env = dockerfile_env(runtime_stage())
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["TRANSFORMERS_OFFLINE"] == "1"
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert env[env_variable("server.host")] == "0.0.0.0"  # noqa: S104 - inside a container


def test_dockerfile_copies_migrations_into_the_workdir() -> None:
    stage = runtime_stage()
    assert arguments_of("WORKDIR", stage)[-1] == APP_WORKDIR
    sources = {
        Path(src).as_posix().rstrip("/")
        for a in arguments_of("COPY", stage)
        for src in copy_sources(a)
    }
    assert {"alembic.ini", "migrations"} <= sources


def test_dockerfile_copy_sources_exist() -> None:
    for keyword, arguments in dockerfile_instructions():
        if keyword == "COPY" and "--from=" not in arguments:
            for source in copy_sources(arguments):
                if not any(char in source for char in "*?["):  # globs may match nothing
                    assert (ROOT / source).exists(), f"COPY source missing: {source}"


def test_dockerfile_serves_and_checks_readiness() -> None:
    stage = runtime_stage()
    command = json.loads(arguments_of("CMD", stage)[-1])
    assert command[0] == "memos-server"
    assert "serve" in command
    assert READY_PATH in arguments_of("HEALTHCHECK", stage)[-1]
    exposed = [int(port.split("/")[0]) for a in arguments_of("EXPOSE", stage) for port in a.split()]
    assert exposed == [listen_port(dockerfile_env(stage))]


def test_dockerignore_keeps_the_build_inputs() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    excluded = [p for p in patterns if not p.startswith("!")]
    for needed in ("pyproject.toml", "src", "alembic.ini", "migrations"):
        assert not any(fnmatch.fnmatch(needed, p) for p in excluded), f"{needed} is ignored"
    for secret_or_state in (".env", ".git", ".venv", ".memos-data"):
        assert any(fnmatch.fnmatch(secret_or_state, p) for p in excluded), secret_or_state


# ============================================================================= tests: scale-out


def test_scale_file_runs_two_api_replicas_without_workers() -> None:
    app = scale_services()["app"]
    assert app["deploy"]["replicas"] == 2
    assert "serve --no-worker" in " ".join(app["command"])
    assert app["ports"] == ["8000-8001:8000"]


def test_scale_file_runs_two_workers_on_the_same_database() -> None:
    services = scale_services()
    worker = services["worker"]
    assert worker["deploy"]["replicas"] == 2
    assert worker["command"] == ["memos-server", "worker"]
    assert worker["depends_on"]["db"]["condition"] == "service_healthy"
    app_url = services["app"]["environment"]["MEMOS_DATABASE__URL"]
    assert worker["environment"]["MEMOS_DATABASE__URL"] == app_url
    assert urlsplit(app_url.replace("${", "").replace("}", "")).hostname == "db"
    assert services["db"]["image"] == PGVECTOR_IMAGE


@pytest.mark.parametrize("service", ["app", "worker"])
def test_scale_file_variables_are_settings(service: str) -> None:
    environment = scale_services()[service]["environment"]
    for name in environment:
        path = name.removeprefix(ENV_PREFIX).lower().split(NESTED_DELIMITER)
        assert ".".join(path) in setting_fields(), name


# ============================================================================= tests: Makefile


def test_make_run_passes_the_port_and_installs_no_extras() -> None:
    commands = make_dry_run("run", "PORT=9000")
    [serve] = [c for c in commands if c.endswith("memos-server serve")]
    assert serve.startswith(f"{env_variable('server.port')}=9000 ")
    installs = [c for c in commands if "pip install" in c]
    assert installs
    assert all(c.endswith(" -e .") for c in installs), installs
    assert not [c for c in make_dry_run("run") if "MEMOS_SERVER__PORT" in c]


def test_make_test_adds_the_dev_torch_and_bench_extras() -> None:
    installs = [c for c in make_dry_run("test") if "pip install" in c]
    assert any(c.endswith('-e ".[dev,torch,bench]"') for c in installs), installs


def test_make_says_what_it_does_and_echoes_no_comment() -> None:
    for target in ("run", "test"):
        commands = make_dry_run(target)
        assert not [c for c in commands if c.lstrip().startswith("#")]
        said = [c for c in commands if c.startswith('echo "memos-server:"')]
        assert len(said) >= 3, commands
