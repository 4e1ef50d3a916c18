"""``memos-server`` commands against a real Postgres (given by URL: no embedded server)."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from tests.support.api import Api
from tests.support.database import fresh_database, sql_autocommit
from tests.support.paths import MODEL_CACHE
from tests.support.service import ServiceThread, free_port


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


def second_column(line: str) -> int:
    """The terminal column a line's second field starts at (a CJK character is two wide)."""
    first = line.split(" ")[0]
    start = len(line) - len(line[len(first) :].lstrip(" "))
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line[:start])


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


def test_apikey_revoke_takes_the_whole_key_too(service: ServiceThread, pg_url: str) -> None:
    keys = [
        cli(pg_url, "apikey", "create", "--project", "cli-whole").stdout.strip().splitlines()[-1]
        for _ in range(2)
    ]
    mistyped = cli(pg_url, "apikey", "revoke", keys[0] + "x")
    assert mistyped.returncode == 1
    assert keys[0] not in mistyped.stderr  # a secret is never printed back
    revoked = cli(pg_url, "apikey", "revoke", keys[0])
    assert revoked.returncode == 0, revoked.stderr
    with Api(service.base_url, keys[0]) as api:
        api.fails("/get/message", {"user_id": "u", "conversation_id": "c"}, 401, 40132)
    with Api(service.base_url, keys[1]) as api:  # only that key, whatever prefixes share
        api.ok("/get/message", {"user_id": "u", "conversation_id": "c"})


def test_projects_and_db_upgrade(service: ServiceThread, pg_url: str) -> None:
    assert cli(pg_url, "project", "create", "cli-other").returncode == 0
    listed = cli(pg_url, "project", "list")
    assert "cli-other" in listed.stdout
    upgraded = cli(pg_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "up to date" in upgraded.stdout


def test_project_and_key_names_follow_the_admin_apis_rules(
    service: ServiceThread, pg_url: str
) -> None:
    for args, said in (
        (("project", "create", ""), "must not be empty or blank"),
        (("project", "create", "   "), "must not be empty or blank"),
        (("project", "create", "长" * 101), "at most 100 characters"),
        (("project", "create", "a/b"), "may not hold '/'"),
        (("apikey", "create", "--project", "a/b"), "may not hold '/'"),
        (("apikey", "create", "--project", "名字", "--name", "名" * 101), "at most 100"),
    ):
        refused = cli(pg_url, *args)
        assert refused.returncode == 1, refused.stdout
        assert said in refused.stderr
        assert "Traceback" not in refused.stderr
    names = cli(pg_url, "project", "list").stdout
    assert "a/b" not in names
    assert "长" * 101 not in names


def test_a_bad_database_url_is_a_clear_error(tmp_path: object) -> None:
    result = cli("mysql://localhost/x", "db", "upgrade")
    assert result.returncode == 1
    assert "postgresql://" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_settings_are_one_line_each(pg_url: str) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    environment |= {
        "MEMOS_DATABASE__URL": pg_url,
        "MEMOS_SEARCH__TIMEZONE": "Mars/Base",
        "MEMOS_SEARCH__VECTOR_WEIGHT": "5",
    }
    result = subprocess.run(
        [sys.executable, "-m", "memos_server", "serve"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "memos-server: MEMOS_SEARCH__VECTOR_WEIGHT: Input should be less than or equal to 1",
        "memos-server: MEMOS_SEARCH__TIMEZONE: unknown time zone 'Mars/Base' "
        "(an IANA name, as Asia/Shanghai)",
    ]


def test_a_database_a_newer_version_migrated_is_a_clear_error(pg_url: str) -> None:
    url = fresh_database(pg_url)
    assert cli(url, "db", "upgrade").returncode == 0
    sql_autocommit(url, "UPDATE alembic_version SET version_num = '9999'")
    result = cli(url, "db", "upgrade")
    assert result.returncode == 1
    assert "newer than this memos-server knows" in result.stderr
    assert "'9999'" in result.stderr
    assert "Traceback" not in result.stderr


def home_cli(
    data_dir: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``memos-server`` as a user runs it: the embedded Postgres in ``data_dir``, no settings."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    environment.update(MEMOS_DATA_DIR=str(data_dir), MEMOS_EMBEDDING__CACHE_DIR=str(MODEL_CACHE))
    return subprocess.run(
        [sys.executable, "-m", "memos_server", *args],
        cwd=data_dir.parent,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def answered(result: subprocess.CompletedProcess[str]) -> str:
    """The result of a command that worked: on stdout, with nothing else there or on stderr."""
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    assert '"level"' not in result.stdout  # no log line among the results
    return result.stdout


WINDOW_SEAT = [
    {"role": "user", "content": "我一般都坐东航，座位尽量靠窗"},
    {"role": "assistant", "content": "好的，我记住了：东航，靠窗的座位。"},
]


def test_cli_add_search_users_and_reset_on_the_embedded_postgres(tmp_path: Path) -> None:
    data = tmp_path / "data"
    none_yet = home_cli(data, "users")
    assert none_yet.returncode == 1
    assert "no projects yet" in none_yet.stderr
    assert "Traceback" not in none_yet.stderr
    answered(home_cli(data, "project", "create", "旅行助手"))

    # The only project is the one used; the messages as add/message takes them.
    added = answered(
        home_cli(
            data, "add", "--user", "小王", "--conversation", "c1", stdin=json.dumps(WINDOW_SEAT)
        )
    )
    assert "stored 2 message(s) for user '小王'" in added
    assert "completed" in added
    again = json.loads(
        answered(
            home_cli(
                data,
                "add",
                "--json",
                "--user",
                "小王",
                "--conversation",
                "c1",
                stdin=json.dumps(WINDOW_SEAT),
            )
        )
    )
    assert again["stored"] is False  # the same add lately: stored once, as over HTTP
    bad = home_cli(data, "add", "--user", "u", "--conversation", "c", stdin='[{"role": "x"}]')
    assert bad.returncode == 1
    assert "messages.0.role" in bad.stderr
    assert "Traceback" not in bad.stderr

    found = answered(home_cli(data, "search", "--user", "小王", "帮我选个靠窗的座位"))
    assert found.startswith("1. fact · score 0.")
    assert "   user: 我一般都坐东航，座位尽量靠窗" in found
    [memory] = json.loads(
        answered(home_cli(data, "search", "--json", "--user", "小王", "帮我选个靠窗的座位"))
    )
    assert memory["kind"] == "fact"
    assert "我一般都坐东航，座位尽量靠窗" in memory["text"]
    assert 0 < memory["score"] <= 1
    assert memory["conversation_id"] == "c1"
    elsewhere = home_cli(data, "search", "--user", "小王", "--conversation", "c2", "靠窗的座位")
    assert "no memories of user '小王'" in answered(elsewhere)

    answered(home_cli(data, "project", "create", "other"))
    # Columns line up in a terminal, where a Chinese character takes two columns.
    projects = answered(home_cli(data, "project", "list")).splitlines()
    assert len({second_column(line) for line in projects}) == 1, projects
    several = home_cli(data, "users")
    assert several.returncode == 1
    assert "--project" in several.stderr
    assert "旅行助手, other" in several.stderr
    listed = answered(home_cli(data, "users", "--project", "旅行助手")).splitlines()
    assert listed[0].split() == [
        "MESSAGES",
        "CONVERSATIONS",
        "FACTS",
        "PREFERENCES",
        "LAST",
        "ACTIVE",
        "USER",
    ]
    assert listed[1].split()[:4] == ["2", "1", "1", "0"]
    assert listed[1].endswith(" 小王")
    [user] = json.loads(answered(home_cli(data, "users", "--json", "--project", "旅行助手")))
    assert (user["user_id"], user["messages"], user["memories"]) == ("小王", 2, 1)

    # reset says what it deletes and deletes only on "yes".
    refused = home_cli(data, "reset", "--project", "旅行助手", "--user", "小王", stdin="no\n")
    assert refused.returncode == 1
    assert "deletes 2 message(s), 1 memory(ies) with 1 history row(s), and 1 task(s)" in (
        refused.stdout
    )
    assert "Type yes to delete:" in refused.stdout
    assert "nothing deleted" in refused.stderr
    assert json.loads(answered(home_cli(data, "users", "--json", "--project", "旅行助手")))
    reset = answered(
        home_cli(data, "reset", "--project", "旅行助手", "--user", "小王", stdin="yes\n")
    )
    assert "deleted 2 message(s), 1 memory(ies)" in reset
    assert json.loads(answered(home_cli(data, "users", "--json", "--project", "旅行助手"))) == []
    keys = answered(home_cli(data, "apikey", "create", "--project", "旅行助手"))
    assert "mk-" in keys

    # The whole project: its keys are not part of it, and the command says so.
    home_cli(
        data,
        "add",
        "--project",
        "旅行助手",
        "--user",
        "u2",
        "--conversation",
        "c",
        stdin=json.dumps(WINDOW_SEAT[:1]),
    )
    whole = answered(home_cli(data, "reset", "--project", "旅行助手", "--yes"))
    assert "all 1 user(s) of project '旅行助手'" in whole
    assert "its API keys stay" in whole
    assert "deleted 1 message(s)" in whole
    assert "active" in answered(home_cli(data, "apikey", "list", "--project", "旅行助手"))
    assert "nothing to delete" in answered(home_cli(data, "reset", "--project", "旅行助手"))
    # Every command stopped the Postgres it started.
    assert not (data / "postgres" / "postmaster.pid").exists()


LISTED_ALONE = """
import sys
from memos_server.cli import main
main(sys.argv[1:])
print("imported:", sorted({m.split(".")[0] for m in sys.modules} & {"sqlalchemy", "alembic"}))
"""


def test_listings_read_on_a_plain_connection_and_migrate_a_new_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # A new data dir: no schema yet. The listing migrates first, then lists nothing.
    first = answered(home_cli(data, "project", "list")).splitlines()
    assert len(first) == 1
    assert first[0].split() == ["PROJECT", "ACTIVE", "KEYS", "ID"]
    answered(home_cli(data, "apikey", "create", "--project", "旅行助手", "--name", "前台"))
    answered(home_cli(data, "project", "create", "没有钥匙"))

    # Migrated: a listing imports neither SQLAlchemy nor Alembic (they took most of its second).
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    environment["MEMOS_DATA_DIR"] = str(data)
    for args, expected in (
        (["apikey", "list"], ["旅行助手", "前台", "never", "active"]),
        (["apikey", "list", "--project", "旅行助手"], ["旅行助手", "前台"]),
        (["project", "list"], ["旅行助手", "没有钥匙"]),
    ):
        listed = subprocess.run(
            [sys.executable, "-c", LISTED_ALONE, *args],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.splitlines()[-1] == "imported: []"
        assert all(word in listed.stdout for word in expected)
    keyless = answered(home_cli(data, "apikey", "list", "--project", "没有钥匙")).splitlines()
    assert len(keyless) == 1  # the header: a project without keys lists none
    unknown = home_cli(data, "apikey", "list", "--project", "nope")
    assert unknown.returncode == 1
    assert "no project named 'nope'" in unknown.stderr
    assert not (data / "postgres" / "postmaster.pid").exists()


def serve_until_ready(pg_url: str, tmp_path: Path, stderr: int) -> subprocess.Popen[bytes]:
    """``memos-server serve`` with no log format set (``auto``), its stderr as given. The database
    has a key already (``api_key``): no new key's banner (printed, not logged) among the lines."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    environment.update(
        MEMOS_DATABASE__URL=pg_url,
        MEMOS_DATA_DIR=str(tmp_path),
        MEMOS_EMBEDDING__CACHE_DIR=str(MODEL_CACHE),
        MEMOS_SERVER__PORT=str(free_port()),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "memos_server", "serve"],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def read_until(fd: int, marker: bytes, timeout_s: float = 180) -> bytes:
    """What the process wrote to ``fd`` up to and including the line with ``marker``."""
    seen = b""
    deadline = time.monotonic() + timeout_s
    while marker not in seen:
        assert time.monotonic() < deadline, seen.decode(errors="replace")
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk, seen.decode(errors="replace")  # the process ended first
            seen += chunk
    return seen


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stderr is not None:
        process.stderr.close()


def test_log_format_auto_writes_json_lines_into_a_pipe(
    pg_url: str, api_key: str, tmp_path: Path
) -> None:
    service = serve_until_ready(pg_url, tmp_path, subprocess.PIPE)
    try:
        assert service.stderr is not None
        written = read_until(service.stderr.fileno(), b"Application startup complete")
    finally:
        stop(service)
    lines = written.decode().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is a JSON object
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any(e["message"].startswith("embedding model ") for e in entries)


def test_log_format_auto_writes_text_lines_to_a_terminal(
    pg_url: str, api_key: str, tmp_path: Path
) -> None:
    terminal, screen = os.openpty()  # the service's stderr is a real terminal
    try:
        service = serve_until_ready(pg_url, tmp_path, screen)
        os.close(screen)
        try:
            written = read_until(terminal, b"Application startup complete")
        finally:
            stop(service)
    finally:
        os.close(terminal)
    lines = written.decode().replace("\r\n", "\n").splitlines()
    text_line = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) +[\w.]+: \S")
    assert lines, written
    for line in lines:
        assert text_line.match(line), line
    assert any(": embedding model " in line for line in lines)
    assert not any(" alembic." in line for line in lines)  # libraries' chatter stays out
    assert "\r" not in written.decode().replace("\r\n", "\n")  # no progress bar drawn in the log


def test_the_quick_schema_check_knows_the_head_alembic_knows() -> None:
    # Short commands tell whether to migrate without importing Alembic (storage/migrations.py).
    from alembic.script import ScriptDirectory

    from memos_server.storage.migrations import alembic_config, head_revision

    heads = ScriptDirectory.from_config(alembic_config("postgresql://localhost/x")).get_heads()
    assert [head_revision()] == heads


def test_a_reindex_draws_its_bar_only_on_a_terminal_with_text_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from memos_server.progress_bar import ProgressBar, ProgressLog, reindex_progress
    from memos_server.services.reindex import Phase, Progress

    # Under pytest stderr is not a terminal: log lines whatever the format.
    assert isinstance(reindex_progress(text_logs=True), ProgressLog)
    assert isinstance(reindex_progress(text_logs=False), ProgressLog)
    terminal, screen = os.openpty()
    try:
        with open(screen, "w") as stderr, pytest.MonkeyPatch.context() as patch:
            patch.setattr(sys, "stderr", stderr)
            assert isinstance(reindex_progress(text_logs=True), ProgressBar)
            assert isinstance(reindex_progress(text_logs=False), ProgressLog)  # JSON logs
    finally:
        os.close(terminal)

    lines = ProgressLog()
    progress = Progress("e5", done=0, total=120)
    with caplog.at_level("INFO", logger="memos_server.reindex"):
        for done in (10, 20):  # within five seconds: one line
            progress.done = done
            lines(progress)
        progress.phase = Phase.DONE
        lines(progress)
    assert [r.getMessage() for r in caplog.records] == [
        "reindex e5: 10/120 memories (8%), 0.0/s [embedding]",
        "reindex e5: 20/120 memories (17%), 0.0/s [done]",
    ]
