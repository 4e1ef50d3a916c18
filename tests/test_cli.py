"""``memos-server`` commands against a real Postgres (given by URL: no embedded server)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import Api, ServiceThread


def cli(pg_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    environment["MEMOS_DATABASE__URL"] = pg_url
    return subprocess.run(
        [sys.executable, "-m", "memos_server", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_apikey_create_list_and_revoke(service: ServiceThread, pg_url: str) -> None:
    created = cli(pg_url, "apikey", "create", "--project", "cli-project", "--name", "ci")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("mk-")
    with Api(service.base_url, key) as api:
        api.ok("/get/message", {"user_id": "u", "conversation_id": "c"})

    listed = cli(pg_url, "apikey", "list", "--project", "cli-project")
    assert listed.returncode == 0, listed.stderr
    assert key[:10] in listed.stdout
    assert key not in listed.stdout  # only the prefix is ever shown
    assert "active" in listed.stdout

    revoked = cli(pg_url, "apikey", "revoke", key[:10])
    assert revoked.returncode == 0, revoked.stderr
    with Api(service.base_url, key) as api:
        api.fails("/get/message", {"user_id": "u", "conversation_id": "c"}, 401, 40132)
    assert "revoked" in cli(pg_url, "apikey", "list", "--project", "cli-project").stdout
    assert cli(pg_url, "apikey", "revoke", key[:10]).returncode != 0


def test_projects_and_db_upgrade(service: ServiceThread, pg_url: str) -> None:
    assert cli(pg_url, "project", "create", "cli-other").returncode == 0
    listed = cli(pg_url, "project", "list")
    assert "cli-other" in listed.stdout
    upgraded = cli(pg_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "up to date" in upgraded.stdout


def test_a_bad_database_url_is_a_clear_error(tmp_path: object) -> None:
    result = cli("mysql://localhost/x", "db", "upgrade")
    assert result.returncode == 1
    assert "postgresql://" in result.stderr
    assert "Traceback" not in result.stderr
