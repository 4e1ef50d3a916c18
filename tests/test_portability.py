"""Export and import (docs/export.md): ``memos-server export``/``import`` as real processes, the
admin API over HTTP, a round trip into a fresh database compared field by field, idempotency,
and bad files refused with nothing stored."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from memos_server.services.portability.format import ADDED_IN
from memos_server.text.tokens import memory_tokens, words_version
from tests.support.api import Api
from tests.support.conversations import ENGLISH_TRIP, SEED_FAMILY_TRIP, SEED_HOTEL
from tests.support.database import fresh_database, new_api_key, sql
from tests.support.knowledge import create_base, settled, upload
from tests.support.memories import store_preference
from tests.support.service import ADMIN_KEY, ServiceThread, make_settings
from tests.test_cli import cli

USER = "用户甲"
FEEDBACK = "我不住七天了，改住全季"
OTHER_SECRET = "乙项目的秘密：保险柜密码是四八一五"


@pytest.fixture(scope="module")
def project(service: ServiceThread, pg_url: str) -> str:
    """A project with messages, fast memories, a preference, feedback, an edited and a deleted
    memory, and a knowledge base with a document; and another project beside it."""
    name = f"导出-{uuid.uuid4().hex[:6]}"
    key = new_api_key(pg_url, name)
    with Api(service.base_url, key) as api:
        for conversation, messages, user in (
            ("c1", SEED_FAMILY_TRIP, USER),
            ("c2", SEED_HOTEL, USER),
            ("c3", ENGLISH_TRIP, "u2"),
        ):
            api.ok(
                "/add/message",
                {
                    "user_id": user,
                    "conversation_id": conversation,
                    "messages": messages,
                    "async_mode": False,
                    "tags": ["旅行"],
                    "info": {"来源": "测试"},
                },
            )
        # A tool call and its result: a tool memory with fields of its own (``details``).
        api.ok(
            "/add/message",
            {
                "user_id": USER,
                "conversation_id": "c4",
                "async_mode": False,
                "messages": [
                    {"role": "user", "content": "杭州明天下雨吗？"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": "{}"},
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": "call_1", "content": "小雨，18°C"},
                ],
            },
        )
        store_preference(service, pg_url, key, USER, "喜欢靠窗的座位，不吃辣")
        api.ok(
            "/add/feedback",
            {"user_id": USER, "conversation_id": "c2", "feedback_content": FEEDBACK},
        )
        listed = api.ok("/get/memory", {"user_id": USER})
        memories = listed["memory_detail_list"]
        api.ok("/update/memory", {"memory_id": memories[0]["id"], "content": "全家一起去海边"})
        api.ok("/delete/memory", {"memory_ids": [memories[1]["id"]]})
        base = create_base(api, "旅行手册")
        files = upload(api, base, ("guide.md", "# 广州\n\n广州的早茶很有名，推荐陶陶居。".encode()))
        assert settled(api, [f["id"] for f in files])[0]["status"] == "completed"
        # Memories that expire and are shared into the base (format version 2).
        api.ok(
            "/add/message",
            {
                "user_id": USER,
                "conversation_id": "c4",
                "messages": [{"role": "user", "content": "下个月去广州出差，住在天河区的酒店"}],
                "async_mode": False,
                "allow_knowledgebase_ids": [base],
                "info": {"expires_at": "2031-01-01T00:00:00+08:00"},
            },
        )
        # Profiles (format version 3): a template, two users bound, one edited (a history row).
        template = api.ok(
            "/add/profile_template",
            {
                "name": "客服画像",
                "metadata": {"基本信息": {"职业": {"value": ""}, "城市": {"value": "北京"}}},
            },
        )["profile_template_id"]
        api.ok(
            "/bind/profile_template",
            {"bind_list": [{"user_id": u, "profile_template_id": template} for u in (USER, "u2")]},
        )
        api.ok(
            "/edit/profile",
            {
                "user_id": USER,
                "profile_template_id": template,
                "metadata": {"基本信息": {"职业": {"value": "教师"}, "城市": {"value": "广州"}}},
            },
        )
    other = new_api_key(pg_url, f"其他-{uuid.uuid4().hex[:6]}")
    with Api(service.base_url, other) as api:
        api.ok(
            "/add/message",
            {
                "user_id": USER,
                "conversation_id": "c1",
                "messages": [{"role": "user", "content": OTHER_SECRET}],
                "async_mode": False,
            },
        )
    return name


def project_id(url: str, name: str) -> str:
    [row] = sql(url, "SELECT id::text AS id FROM projects WHERE name = :n", n=name)
    return str(row["id"])


def contents(url: str, name: str) -> dict[str, Any]:
    """Everything of a project that an import must carry, without the ids that may differ."""
    p = project_id(url, name)
    # Sources as message numbers: the service's own message ids differ between databases.
    messages = sql(
        url,
        "SELECT seq, user_id, conversation_id, agent_id, app_id, role, content, content_parts, "
        "tool_call_id, tool_calls, chat_time, tags, info, created_at, updated_at, "
        "(SELECT kind FROM tasks t WHERE t.id = m.task_id) AS task_kind "
        "FROM messages m WHERE project_id = CAST(:p AS uuid) ORDER BY seq",
        p=p,
    )
    memories = sql(
        url,
        "SELECT user_id, conversation_id, agent_id, app_id, kind, mode, memory_key, "
        "memory_value, memory_type, preference_type, reasoning, tags, memory_time, confidence, "
        "status, info, details, prompt_version, search_text, create_time, update_time, "
        "expires_at, ARRAY(SELECT b.name FROM knowledge_bases b WHERE b.id = "
        "ANY(m.knowledgebase_ids) ORDER BY b.name) AS bases, "
        "ARRAY(SELECT seq FROM messages x WHERE x.id = ANY(m.source_message_ids) ORDER BY seq) "
        "AS sources, cardinality(corrects) AS corrects, "
        "(SELECT kind FROM tasks t WHERE t.id = m.task_id) AS task_kind "
        "FROM memories m WHERE project_id = CAST(:p AS uuid) "
        "ORDER BY create_time, memory_key, memory_value",
        p=p,
    )
    history = sql(
        url,
        "SELECT memory_id::text AS memory, event, old_value, new_value, created_at, "
        "ARRAY(SELECT seq FROM messages x WHERE x.id = ANY(h.source_message_ids) ORDER BY seq) "
        "AS sources "
        "FROM memory_history h WHERE project_id = CAST(:p AS uuid) ORDER BY h.id",
        p=p,
    )
    groups: dict[str, list[Any]] = {}
    for row in history:
        groups.setdefault(row.pop("memory"), []).append(row)
    return {
        "messages": messages,
        "memories": memories,
        # Each memory's rows in their order; the memories in an order of their own content.
        "history": sorted(json.dumps(g, default=str) for g in groups.values()),
        "feedback": sql(
            url,
            "SELECT user_id, conversation_id, content, feedback_time, created_at FROM feedback "
            "WHERE project_id = CAST(:p AS uuid) ORDER BY created_at",
            p=p,
        ),
        "tasks": sql(
            url,
            "SELECT kind, user_id, conversation_id, status, error, created_at FROM tasks "
            "WHERE project_id = CAST(:p AS uuid) ORDER BY created_at, kind, conversation_id",
            p=p,
        ),
        "profiles": sql(
            url,
            "SELECT t.name, t.fields AS template_fields, r.subject_kind, r.subject_id, r.fields, "
            "r.created_at, r.updated_at FROM profiles r JOIN profile_templates t "
            "ON t.id = r.template_id WHERE r.project_id = CAST(:p AS uuid) ORDER BY r.subject_id",
            p=p,
        ),
        "profile_history": sql(
            url,
            "SELECT subject_id, path, actor, old_value, new_value, created_at, "
            "(SELECT t.name FROM profile_templates t WHERE t.id = h.template_id) AS template "
            "FROM profile_history h WHERE project_id = CAST(:p AS uuid) ORDER BY h.id",
            p=p,
        ),
        "passages": sql(
            url,
            "SELECT b.name, f.name AS file, f.status, p.position, p.heading, p.text, "
            "p.search_text FROM knowledge_passages p JOIN knowledge_files f ON f.id = p.file_id "
            "JOIN knowledge_bases b ON b.id = p.knowledgebase_id "
            "WHERE p.project_id = CAST(:p AS uuid) ORDER BY p.position",
            p=p,
        ),
    }


def vectors(url: str, name: str) -> list[str]:
    rows = sql(
        url,
        "SELECT embedding::text AS v FROM memories WHERE project_id = CAST(:p AS uuid) "
        "ORDER BY create_time, memory_key, memory_value",
        p=project_id(url, name),
    )
    return [r["v"] for r in rows]


def search(url: str, name: str, query: str) -> list[str]:
    found = cli(url, "search", query, "--user", USER, "--project", name, "--json")
    assert found.returncode == 0, found.stderr
    return [m["text"] for m in json.loads(found.stdout)]


def records(path: Path) -> Iterator[dict[str, Any]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        yield json.loads(line)


def imported(url: str, path: Path, *args: str) -> dict[str, Any]:
    done = cli(url, "import", str(path), "--json", *args)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_round_trip_with_vectors_into_a_fresh_database(
    project: str, pg_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "export.jsonl"
    done = cli(pg_url, "export", "--project", project, "--embeddings", "-o", str(path))
    assert done.returncode == 0, done.stderr
    header, *rest = records(path)
    assert header["format"] == "memos-server-export"
    assert header["version"] == 3
    assert header["words"] == words_version()
    assert header["embeddings"] is True
    assert header["dimension"] > 0
    kinds = [r["type"] for r in rest]
    for kind in (
        *("task", "message", "memory", "history", "feedback", "knowledge_base", "passage"),
        *("profile_template", "profile"),
    ):
        assert kinds.count(kind) == header["counts"][kind] > 0, kind
    text = path.read_text(encoding="utf-8")
    assert "七天" in text
    assert OTHER_SECRET not in text

    fresh = fresh_database(pg_url)
    answer = imported(fresh, path)
    assert answer["created"] is True
    assert answer["embedded"] == 0
    assert answer["added"]["memory"] == header["counts"]["memory"]
    assert contents(fresh, project) == contents(pg_url, project)
    shared = [m for m in contents(fresh, project)["memories"] if m["bases"]]
    assert shared
    assert all(m["bases"] == ["旅行手册"] and m["expires_at"] for m in shared)
    assert vectors(fresh, project) == vectors(pg_url, project)
    memory_ids = "SELECT id::text FROM memories WHERE project_id = CAST(:p AS uuid) ORDER BY id"
    assert sql(fresh, memory_ids, p=project_id(fresh, project)) == sql(
        pg_url, memory_ids, p=project_id(pg_url, project)
    )  # free ids are kept
    for query in ("带孩子全家旅行", "住哪家酒店"):
        assert search(fresh, project, query) == search(pg_url, project, query)

    again = imported(fresh, path)
    assert not any(again["added"].values()), again
    assert again["skipped"]["memory"] == header["counts"]["memory"]
    assert contents(fresh, project) == contents(pg_url, project)


def test_round_trip_without_vectors_re_embeds(project: str, pg_url: str, tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl"
    assert cli(pg_url, "export", "--project", project, "-o", str(path)).returncode == 0
    assert '"embedding"' not in path.read_text(encoding="utf-8")
    fresh = fresh_database(pg_url)
    answer = imported(fresh, path, "--project", "迁入")
    counts = next(records(path))["counts"]
    assert answer["embedded"] == counts["memory"] + counts["passage"]
    assert contents(fresh, "迁入") == contents(pg_url, project)
    assert search(fresh, "迁入", "带孩子全家旅行") == search(pg_url, project, "带孩子全家旅行")


def test_a_version_1_file_still_imports(project: str, pg_url: str, tmp_path: Path) -> None:
    """A file written before version 2 (no expiry, no bases on memories, the bases after the
    feedback) imports; a version 1 file with a field of version 2 is refused."""
    path = tmp_path / "v2.jsonl"
    assert cli(pg_url, "export", "--project", project, "-o", str(path)).returncode == 0
    header, *rest = records(path)
    for record in rest:  # without the fields versions 2 and 3 added (format.ADDED_IN)
        for added in ADDED_IN.values():
            for name in added.get(record["type"], ()):
                record.pop(name, None)
    v1 = ["task", "message", "memory", "history", "feedback", "knowledge_base"]
    v1 += ["knowledge_file", "passage"]
    rest = [r for r in rest if r["type"] in v1]  # profiles came in version 3
    rest.sort(key=lambda r: v1.index(r["type"]))
    old = tmp_path / "v1.jsonl"
    lines = [header | {"version": 1}, *rest]
    old.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), "utf-8")
    fresh = fresh_database(pg_url)
    answer = imported(fresh, old, "--project", "旧版")
    assert answer["added"]["memory"] == header["counts"]["memory"]
    stored = contents(fresh, "旧版")["memories"]
    assert stored
    assert not any(m["expires_at"] or m["bases"] for m in stored)

    memory = next(i for i, r in enumerate(lines) if r["type"] == "memory")
    lines[memory] = lines[memory] | {"expires_at": "2031-01-01T00:00:00+00:00"}
    old.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), "utf-8")
    done = cli(fresh, "import", str(old), "--project", "旧版二")
    assert done.returncode == 1
    assert "expires_at came in version 2" in done.stderr, done.stderr


def _write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), "utf-8")
    return path


def test_words_are_kept_only_when_this_segmenter_made_them(
    project: str, pg_url: str, tmp_path: Path
) -> None:
    """Version 3 carries each memory's and passage's words (``search_text``). An import keeps
    them when the header's ``words`` is this instance's (no segmenting again: most of an
    import's time), and makes them again from the text when another segmenter made them."""
    path = tmp_path / "words.jsonl"
    assert cli(pg_url, "export", "--project", project, "-o", str(path)).returncode == 0
    header, *rest = records(path)
    memories = [r for r in rest if r["type"] == "memory"]
    assert memories
    assert all(
        r["search_text"] == memory_tokens(r["memory_key"], r["memory_value"]) for r in memories
    )
    assert all(r["search_text"].strip() for r in rest if r["type"] == "passage")
    # Words only the carried ones hold: kept under this segmenter, not under another.
    marked = [
        r | {"search_text": f"{r['search_text']} 暗号词"} if "search_text" in r else r for r in rest
    ]
    fresh = fresh_database(pg_url)
    imported(fresh, _write(tmp_path / "kept.jsonl", [header, *marked]), "--project", "留词")
    kept = sql(
        fresh,
        "SELECT search_text FROM memories m JOIN projects p ON p.id = m.project_id "
        "WHERE p.name = '留词' UNION ALL SELECT search_text FROM knowledge_passages k "
        "JOIN projects p ON p.id = k.project_id WHERE p.name = '留词'",
    )
    assert len(kept) == sum("search_text" in r for r in rest)
    assert all(r["search_text"].endswith(" 暗号词") for r in kept)

    other = header | {"words": "another-segmenter"}
    imported(fresh, _write(tmp_path / "other.jsonl", [other, *marked]), "--project", "重切")
    assert contents(fresh, "重切") == contents(pg_url, project)

    done = cli(
        fresh, "import", str(_write(tmp_path / "v2.jsonl", [header | {"version": 2}, *rest]))
    )
    assert done.returncode == 1
    assert "search_text came in version 3" in done.stderr, done.stderr
    wordless = [{k: v for k, v in r.items() if k != "search_text"} for r in rest]
    v2 = _write(tmp_path / "v2.jsonl", [header | {"version": 2}, *wordless])
    done = cli(fresh, "import", str(v2))
    assert done.returncode == 1
    assert "profile_template records came in version 3" in done.stderr, done.stderr


def test_one_users_export(project: str, pg_url: str) -> None:
    done = cli(pg_url, "export", "--project", project, "--user", "u2")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0]["user_id"] == "u2"
    users = {r.get("user_id") or r.get("subject_id") for r in lines[1:]}
    assert users - {None} == {"u2"}
    kinds = [r["type"] for r in lines]
    assert "knowledge_base" not in kinds
    # The user's profile comes with the template it is bound to, and nobody else's.
    assert kinds.count("profile") == kinds.count("profile_template") == 1
    assert lines[0]["counts"]["profile"] == 1
    nowhere = cli(pg_url, "export", "--project", project, "-o", "/nonexistent/dir/x.jsonl")
    assert nowhere.returncode == 1
    assert "cannot write /nonexistent/dir/x.jsonl.partial" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr


def admin(service: ServiceThread) -> httpx.Client:
    root = service.base_url.split("/api/")[0]
    return httpx.Client(
        base_url=root, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=120
    )


def test_admin_api_export_and_import_into_another_project(
    project: str, service: ServiceThread, pg_url: str
) -> None:
    with admin(service) as client:
        with client.stream("GET", f"/admin/v1/projects/{project}/export?embeddings=true") as got:
            assert got.status_code == 200
            assert got.headers["content-type"].startswith("application/x-ndjson")
            body = b"".join(got.iter_bytes())
        assert OTHER_SECRET.encode() not in body
        target = f"副本-{uuid.uuid4().hex[:6]}"

        def send() -> dict[str, Any]:
            chunks = (body[i : i + 7000] for i in range(0, len(body), 7000))
            answer = client.post(
                f"/admin/v1/projects/{target}/import",
                content=chunks,
                headers={"Content-Type": "application/x-ndjson"},
            )
            assert answer.status_code == 200, answer.text
            data: dict[str, Any] = answer.json()["data"]
            return data

        first = send()
        assert first["created"] is True
        assert first["embedded"] == 0
        # The same database: every id is the source project's, so each gets one of its own.
        assert contents(pg_url, target) == contents(pg_url, project)
        again = send()
        assert not any(again["added"].values()), again
        assert contents(pg_url, target) == contents(pg_url, project)
        missing = client.get("/admin/v1/projects/no-such-project/export")
        assert missing.status_code == 404
        assert client.get(
            f"/admin/v1/projects/{project}/export",
            headers={"Authorization": "Bearer wrong"},
        ).status_code in (401, 403)


def _broken(path: Path, out: Path, line: int, text: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[line] = text
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_bad_files_are_refused_and_nothing_is_stored(
    project: str, pg_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "good.jsonl"
    assert cli(pg_url, "export", "--project", project, "-o", str(path)).returncode == 0
    lines = path.read_text(encoding="utf-8").splitlines()
    memory_line = next(i for i, line in enumerate(lines) if json.loads(line)["type"] == "memory")
    archived = json.loads(lines[memory_line]) | {"status": "gone"}
    header = json.loads(lines[0]) | {"version": 99}
    profile_line = next(i for i, line in enumerate(lines) if json.loads(line)["type"] == "profile")
    profile = json.loads(lines[profile_line])
    orphan = profile | {"template_id": str(uuid.uuid4())}
    dotted = profile | {
        "fields": [{"path": ["基本.信息"], "value": "x", "algorithm_updatable": True}]
    }
    memory = json.loads(lines[memory_line])
    # Rows no API request could write, which the service could not read back or export again.
    unreadable = {
        "year-0": ({"create_time": "0001-01-01T00:00:00+05:00"}, "memory.create_time"),
        "year-10000": ({"expires_at": "9999-12-31T23:00:00-05:00"}, "memory.expires_at"),
        "blank-user": ({"user_id": " "}, "memory.user_id"),
        "preference-type": ({"preference_type": "garbage"}, "memory.preference_type"),
        "confidence": ({"confidence": -7}, "memory.confidence"),
        "too-long": ({"memory_value": "词" * 500_001}, "memory.memory_value"),
    }
    header_at_end = json.loads(lines[0]) | {"message_seq": 2**63 - 1}
    fresh = fresh_database(pg_url)
    cases = {
        **{
            name: (
                memory_line,
                json.dumps(memory | change, ensure_ascii=False),
                f"line {memory_line + 1}: {field}",
            )
            for name, (change, field) in unreadable.items()
        },
        "message-counter": (0, json.dumps(header_at_end), "line 1: header message_seq"),
        "not-json": (memory_line + 1, "{这不是 JSON", f"line {memory_line + 2}: not JSON"),
        "bad-field": (
            memory_line,
            json.dumps(archived, ensure_ascii=False),
            f"line {memory_line + 1}: memory.status",
        ),
        "version": (0, json.dumps(header), "version 99"),
        "orphan-profile": (
            profile_line,
            json.dumps(orphan, ensure_ascii=False),
            "which neither the file's profile_template records nor the project hold",
        ),
        "dotted-field": (
            profile_line,
            json.dumps(dotted, ensure_ascii=False),
            f"line {profile_line + 1}: profile.fields.0.path.0",
        ),
    }
    for name, (number, text, message) in cases.items():
        broken = tmp_path / f"{name}.jsonl"
        _broken(path, broken, number, text)
        done = cli(fresh, "import", str(broken), "--project", "坏文件")
        assert done.returncode == 1, (name, done.stdout)
        assert message in done.stderr, (name, done.stderr)
        assert "Traceback" not in done.stderr
        for table in ("messages", "memories", "memory_history", "tasks", "profiles"):
            count = f"SELECT count(*) AS n FROM {table}"  # noqa: S608 (our table names)
            assert sql(fresh, count) == [{"n": 0}], (name, table)
    # A vector Postgres refuses (out of a float's range), in a file whose vectors are used.
    dimension = json.loads(lines[0])["dimension"]
    vector = "[" + ",".join(["1e99"] + ["0"] * (dimension - 1)) + "]"
    carrying = [json.dumps(json.loads(lines[0]) | {"embeddings": True}), *lines[1:]]
    carrying[memory_line] = carrying[memory_line][:-1] + f',"embedding":{vector}}}'
    broken = tmp_path / "bad-vector.jsonl"
    broken.write_text("\n".join(carrying) + "\n", encoding="utf-8")
    done = cli(fresh, "import", str(broken), "--project", "坏文件")
    assert done.returncode == 1, done.stdout
    assert "memory records the database refused" in done.stderr, done.stderr
    assert sql(fresh, "SELECT count(*) AS n FROM memories") == [{"n": 0}]
    # Fixed, the same import runs whole.
    assert imported(fresh, path, "--project", "坏文件")["added"]["memory"] > 0


def test_admin_import_is_bounded_and_errors_are_clear(pg_url: str, tmp_path: Path) -> None:
    url = fresh_database(pg_url)
    settings = make_settings(
        url,
        tmp_path,
        limits={"rate_per_key": 0, "failed_keys_per_minute": 0, "import_max_bytes": 2000},
    )
    small = ServiceThread(settings)
    small.start()
    try:
        _bounded(small)
    finally:
        small.stop()
    assert sql(url, "SELECT count(*) AS n FROM messages") == [{"n": 0}]


def _bounded(small: ServiceThread) -> None:
    with admin(small) as client:
        header = {
            "type": "header",
            "format": "memos-server-export",
            "version": 1,
            "exported_at": "2026-11-30T00:00:00+00:00",
            "project_id": str(uuid.uuid4()),
            "project": "p",
            "user_id": None,
            "embeddings": False,
            "model": None,
            "dimension": None,
            "message_seq": 0,
            "counts": {},
        }
        line = json.dumps(header).encode() + b"\n"
        big = client.post("/admin/v1/projects/p/import", content=line + b" " * 3000)
        assert big.status_code == 413
        assert "MEMOS_LIMITS__IMPORT_MAX_BYTES" in big.text
        streamed = client.post(
            "/admin/v1/projects/p/import", content=iter([line, b" " * 1500, b" " * 1500])
        )
        assert streamed.status_code == 413
        bad = client.post("/admin/v1/projects/p/import", content=line + b"[1, 2]\n")
        assert bad.status_code == 400
        assert "line 2" in bad.json()["message"]
        wrong = client.post("/admin/v1/projects/p/import", content=b'{"type": "memory"}\n')
        assert wrong.status_code == 400
        assert "header" in wrong.json()["message"]


def test_progress_bar_on_a_terminal_only(project: str, pg_url: str, tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    environment["MEMOS_DATABASE__URL"] = pg_url
    command = [sys.executable, "-m", "memos_server", "export", "--project", project]
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [*command, "-o", str(tmp_path / "a.jsonl")],
            env=environment,
            stderr=follower,
            timeout=120,
            check=False,
        )
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert b"export memory [" in drawn
    assert b"records/s" in drawn
    piped = cli(pg_url, "export", "--project", project, "-o", str(tmp_path / "b.jsonl"))
    assert piped.returncode == 0
    assert piped.stderr == ""  # no bar written into a pipe or a log


def test_a_newer_export_of_a_source_never_lands_on_numbers_taken_since(
    service: ServiceThread, pg_url: str
) -> None:
    source, target = (f"{name}-{uuid.uuid4().hex[:6]}" for name in ("源", "靶"))
    source_api = Api(service.base_url, new_api_key(pg_url, source))
    target_api = Api(service.base_url, new_api_key(pg_url, target))

    def say(api: Api, user: str, *texts: str) -> None:
        messages = [{"role": "user", "content": text} for text in texts]
        body = {"user_id": user, "conversation_id": "c", "messages": messages}
        api.ok("/add/message", body | {"async_mode": False})

    def messages_of(user: str) -> list[str]:
        rows = sql(
            pg_url,
            "SELECT m.content FROM messages m JOIN projects p ON p.id = m.project_id "
            "WHERE p.name = :t AND m.user_id = :u ORDER BY m.seq",
            t=target,
            u=user,
        )
        return [row["content"] for row in rows]

    with admin(service) as client, source_api, target_api:

        def copy() -> httpx.Response:
            body = client.get(f"/admin/v1/projects/{source}/export").content
            return client.post(
                f"/admin/v1/projects/{target}/import",
                content=body,
                headers={"Content-Type": "application/x-ndjson"},
            )

        say(source_api, "ux", "X 第一条", "X 第二条")
        say(target_api, "uy", "Y 第一条", "Y 第二条", "Y 第三条")
        assert copy().status_code == 200
        say(target_api, "uy", "Y 导入后的第一条", "Y 导入后的第二条")
        say(source_api, "ux", "X 第三条：我住在成都", "X 第四条：我是医生")

        refused = copy()

        assert refused.status_code == 400
        assert "holds another message" in refused.json()["message"]
        assert messages_of("ux") == ["X 第一条", "X 第二条"]
        assert messages_of("uy")[-2:] == ["Y 导入后的第一条", "Y 导入后的第二条"]


def test_an_export_leaves_out_memories_already_expired(service: ServiceThread, pg_url: str) -> None:
    """Expired is gone for every reader, the sweep's delete pending or not (the messages stay:
    an expiry is the memories', docs/retention.md)."""
    name = f"过期-{uuid.uuid4().hex[:6]}"
    with Api(service.base_url, new_api_key(pg_url, name)) as api:
        for text, info in (("验证码是778800", {"ttl_seconds": 1}), ("我住在成都", {})):
            message = {"role": "user", "content": text}
            api.ok(
                "/add/message",
                {"user_id": "u", "conversation_id": text, "messages": [message],
                 "info": info, "async_mode": False},
            )  # fmt: skip
    time.sleep(1.5)
    with admin(service) as client:
        body = client.get(f"/admin/v1/projects/{name}/export").text
    records = [json.loads(line) for line in body.splitlines()]
    memories = [r for r in records if r.get("type") == "memory"]
    assert memories
    assert any("成都" in m["memory_value"] for m in memories)
    assert not [m for m in memories if "778800" in m["memory_value"]]
    assert records[0]["counts"]["memory"] == len(memories)


def test_two_imports_of_one_file_at_once_both_land(
    project: str, pg_url: str, tmp_path: Path
) -> None:
    """One import at a time (an advisory lock): both find the exported ids free or taken as
    they are when each runs, not as they were when the other looked."""
    path = tmp_path / "export.jsonl"
    assert cli(pg_url, "export", "--project", project, "-o", str(path)).returncode == 0
    fresh = fresh_database(pg_url)

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda name: imported(fresh, path, "--project", name), ["甲", "乙"]))

    assert [r["added"]["memory"] for r in runs] == [runs[0]["added"]["memory"]] * 2
    assert runs[0]["added"]["memory"] > 0
