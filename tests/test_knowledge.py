"""Knowledge bases over HTTP: each format parsed into passages by a job, the limits, a damaged
document failing its job, URLs refused, isolation between projects, deletion, and recall of
passages beside the user's memories."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from memos_server.services.knowledge.ingest import KnowledgeIngester
from tests.support.api import Api
from tests.support.database import fresh_database, new_api_key, sql
from tests.support.knowledge import (
    b64,
    create_base,
    make_docx,
    make_pdf,
    memories_of,
    passages_of,
    settled,
    upload,
    zip_bomb_docx,
)
from tests.support.service import ServiceThread, make_settings

DOG_FOOD_MD = """# 宠物食品手册

## 低敏狗粮

狗狗吃了新狗粮拉肚子，常见原因是食物过敏，可以换成低敏狗粮。
低敏幼犬粮推荐：B（鸡肉味）、C（三文鱼味）。

## Returns

Returns are accepted within 30 days with the receipt.
"""


def search(api: Api, query: str, base_ids: list[str], **extra: object) -> dict[str, object]:
    body = {"user_id": "kb-user", "query": query, "knowledgebase_ids": base_ids, **extra}
    result: dict[str, object] = api.ok("/search/memory", body)
    return result


def test_text_formats_become_searchable_passages(api: Api, pg_url: str) -> None:
    base = create_base(api)
    html = (
        "<html><head><style>p{}</style><script>var x=1;</script></head><body>"
        "<h1>Warranty</h1><p>The kettle has a two-year warranty.</p>"
        "<h2>Exclusions</h2><p>Limescale damage is not covered.</p></body></html>"
    )
    added = upload(
        api,
        base,
        ("dogs.md", DOG_FOOD_MD.encode()),
        ("notes.txt", b"Opening hours: nine to five.\n\nClosed on Sundays."),
        ("kettle.html", html.encode()),
        ("faq.json", b'{"shipping": "Orders ship within two days."}'),
    )
    assert [a["status"] for a in added] == ["running"] * 4
    assert {"id", "name", "sizeMB", "status", "task_id"} <= set(added[0])
    files = settled(api, [a["id"] for a in added])
    assert [f["status"] for f in files] == ["completed"] * 4, files
    assert all(f["passages"] >= 1 and f["reason"] is None for f in files)
    assert [f["type"] for f in files] == ["md", "txt", "html", "json"]
    status = api.ok("/get/status", {"task_id": added[0]["task_id"]})
    assert status[0]["status"] == "completed"

    page = api.ok("/get/knowledgebase-file", {"knowledgebase_id": base, "page": 2, "page_size": 3})
    assert (page["total"], page["page"], page["page_size"]) == (4, 2, 3)
    assert [f["name"] for f in page["file_detail_list"]] == ["faq.json"]

    found = passages_of(search(api, "Is limescale damage covered by the kettle warranty?", [base]))
    assert found[0]["file_name"] == "kettle.html"
    [exclusions] = [p for p in found if p["heading"] == "Warranty > Exclusions"]
    assert exclusions["memory_value"] == "Limescale damage is not covered."
    assert "var x" not in " ".join(p["memory_value"] for p in found)
    rows = sql(
        pg_url,
        "SELECT heading, text FROM knowledge_passages WHERE knowledgebase_id = "
        "CAST(:b AS uuid) ORDER BY file_id, position",
        b=base,
    )
    assert any(r["heading"] == "宠物食品手册 > 低敏狗粮" for r in rows)


def test_pdf_and_docx_with_headings_pages_and_chinese(api: Api) -> None:
    base = create_base(api)
    pdf = make_pdf(
        [
            ["Travel policy", "Economy class is booked for flights under six hours."],
            ["报销政策", "设计软件的采购限额为一千元。"],
        ]
    )
    word = make_docx(
        [
            ("Onboarding", ["New staff receive a laptop on their first day."]),
            ("入职须知", ["新员工第一天领取工牌和电脑。"]),
        ]
    )
    added = upload(api, base, ("policy.pdf", pdf), ("handbook.docx", word))
    files = settled(api, [a["id"] for a in added])
    assert [f["status"] for f in files] == ["completed", "completed"], files

    [top, *_] = passages_of(search(api, "设计软件采购限额是多少", [base]))
    assert top["file_name"] == "policy.pdf"
    # Both short pages make one passage (no heading between them): it starts on page 1.
    assert top["page"] == 1
    assert "一千元" in top["memory_value"]
    [top, *_] = passages_of(search(api, "laptop first day", [base]))
    assert (top["file_name"], top["heading"]) == ("handbook.docx", "Onboarding")
    assert top["position"] == 0
    assert top["memory_key"] == "Onboarding"


def test_damaged_documents_fail_their_job_and_leave_no_passage(api: Api, pg_url: str) -> None:
    base = create_base(api)
    added = upload(
        api,
        base,
        ("broken.pdf", b"%PDF-1.4\n1 0 obj <<>> garbage without an end"),
        ("bomb.docx", zip_bomb_docx(60_000_000)),
        ("empty.md", b"   \n\n  "),
    )
    files = settled(api, [a["id"] for a in added])
    assert [f["status"] for f in files] == ["failed"] * 3
    broken, bomb, empty = (f["reason"] for f in files)
    assert "PDF" in broken
    assert "zip bomb" in bomb
    assert "no text" in empty
    status = api.ok("/get/status", {"task_id": added[0]["task_id"]})
    assert status[0]["status"] == "failed"
    assert "PDF" in status[0]["error"]
    rows = sql(
        pg_url,
        "SELECT count(*) AS n, max(octet_length(f.content)) AS kept FROM knowledge_files f "
        "LEFT JOIN knowledge_passages p ON p.file_id = f.id WHERE f.knowledgebase_id = "
        "CAST(:b AS uuid) AND p.id IS NOT NULL",
        b=base,
    )
    assert rows[0]["n"] == 0


def test_nul_and_lone_surrogates_are_dropped_and_deep_json_fails_at_once(api: Api) -> None:
    base = create_base(api)
    added = upload(
        api,
        base,
        ("nul.txt", "退货政策\x00三十天内 returns\x00 policy".encode()),
        ("odd.json", b'{"\\ud800key": "\\udc00value \xe9\x80\x80\xe8\xb4\xa7"}'),
        ("deep.json", b"[" * 3000 + b"]" * 3000),
    )
    nul, odd, deep = settled(api, [a["id"] for a in added], timeout_s=30)
    assert (nul["status"], odd["status"]) == ("completed", "completed")
    assert (deep["status"], deep["reason"]) == ("failed", "the JSON is nested too deeply to read")
    found = search(api, "退货政策 三十天", [base])
    texts = [p["memory_value"] for p in passages_of(found)]
    assert any("退货政策三十天内 returns policy" in text for text in texts), texts


def test_a_long_name_is_cut_in_its_stem_and_keeps_its_extension(api: Api) -> None:
    base = create_base(api)
    [added] = upload(api, base, ("手册" * 500 + ".md", DOG_FOOD_MD.encode()))
    assert len(added["name"]) == 200
    assert added["name"].endswith("手册….md")
    [file] = settled(api, [added["id"]], timeout_s=30)
    assert (file["status"], file["type"]) == ("completed", "md")


def test_a_job_that_crashes_fails_its_file_too(small: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(KnowledgeIngester, "_passages", crash)
    base = create_base(small)
    [added] = upload(small, base, ("fine.txt", b"Returns within 30 days."))
    [file] = settled(small, [added["id"]], timeout_s=30)
    assert file["status"] == "failed"
    assert file["reason"] == "document processing failed (internal error: RuntimeError)"
    [status] = small.ok("/get/status", {"task_id": added["task_id"]})
    assert status["status"] == "failed"


def test_urls_are_refused(api: Api) -> None:
    base = create_base(api)
    body = {"knowledgebase_id": base, "file": [{"content": "http://169.254.169.254/latest"}]}
    message = api.fails("/add/knowledgebase-file", body, 400, 40000)
    assert "does not fetch documents by URL" in message
    bad = {"knowledgebase_id": base, "file": [{"content": "not base64 at all!"}]}
    api.fails("/add/knowledgebase-file", bad, 400, 40008)
    odd = {"knowledgebase_id": base, "file": [{"name": "a.exe", "content": b64(b"\x00\xff\x00")}]}
    api.fails("/add/knowledgebase-file", odd, 400, 40007)
    files = api.ok("/get/knowledgebase-file", {"knowledgebase_id": base})
    assert files["total"] == 0


def test_projects_cannot_see_or_touch_each_others_bases(
    service: ServiceThread, pg_url: str, api: Api
) -> None:
    base = create_base(api)
    [added] = upload(api, base, ("dogs.md", DOG_FOOD_MD.encode()))
    settled(api, [added["id"]])
    with Api(service.base_url, new_api_key(pg_url)) as other:
        mine = create_base(other, "other")
        [theirs] = upload(other, mine, ("dogs.md", DOG_FOOD_MD.encode()))
        settled(other, [theirs["id"]])
        for path, body in [
            ("/delete/knowledgebase", {"knowledgebase_id": base}),
            ("/get/knowledgebase-file", {"knowledgebase_id": base}),
            ("/get/knowledgebase-file", {"file_ids": [added["id"]]}),
            ("/delete/knowledgebase-file", {"file_ids": [added["id"]]}),
            (
                "/add/knowledgebase-file",
                {"knowledgebase_id": base, "file": [{"name": "x.txt", "content": b64(b"x")}]},
            ),
            ("/search/memory", {"user_id": "u", "query": "狗粮", "knowledgebase_ids": [base]}),
        ]:
            other.fails(path, body, 403, 50123)
        other.fails("/delete/knowledgebase", {"knowledgebase_id": "0" * 32}, 404, 50120)
        # "all" is every base of the caller's project, and only those.
        found = passages_of(search(other, "狗狗拉肚子换什么狗粮", ["all"]))
        assert found
        assert {p["knowledgebase_id"] for p in found} == {mine}
    assert passages_of(search(api, "狗狗拉肚子换什么狗粮", ["all"]))[0]["knowledgebase_id"] == base


def test_deleting_a_file_or_a_base_removes_its_passages_at_once(api: Api, pg_url: str) -> None:
    base = create_base(api)
    added = upload(
        api, base, ("dogs.md", DOG_FOOD_MD.encode()), ("more.txt", "低敏狗粮每袋两公斤。".encode())
    )
    settled(api, [a["id"] for a in added])
    assert {p["file_name"] for p in passages_of(search(api, "低敏狗粮", [base]))} == {
        "dogs.md",
        "more.txt",
    }
    assert api.ok("/delete/knowledgebase-file", {"file_ids": [added[0]["id"]]}) == {"success": True}
    assert {p["file_name"] for p in passages_of(search(api, "低敏狗粮", [base]))} == {"more.txt"}
    api.fails("/get/knowledgebase-file", {"file_ids": [added[0]["id"]]}, 404, 40001)
    assert api.ok("/delete/knowledgebase", {"knowledgebase_id": base}) == {"success": True}
    api.fails(
        "/search/memory", {"user_id": "u", "query": "狗粮", "knowledgebase_ids": [base]}, 404, 50120
    )
    assert passages_of(search(api, "低敏狗粮", ["all"])) == []
    left = sql(
        pg_url,
        "SELECT count(*) AS n FROM knowledge_passages WHERE knowledgebase_id = CAST(:b AS uuid)",
        b=base,
    )
    assert left[0]["n"] == 0


def test_a_chinese_question_recalls_a_memory_and_a_passage(api: Api) -> None:
    api.ok(
        "/add/message",
        {
            "user_id": "kb-user",
            "conversation_id": "c1",
            "messages": [
                {"role": "user", "content": "我家小狗是三个月大的金毛，它不吃鸡肉味的狗粮。"},
                {"role": "assistant", "content": "好的，我记住了，它不吃鸡肉味。"},
            ],
            "async_mode": False,
        },
    )
    base = create_base(api)
    [added] = upload(api, base, ("dogs.md", DOG_FOOD_MD.encode()))
    settled(api, [added["id"]])

    result = search(
        api, "狗狗吃了这个狗粮拉肚子，想换一种，推荐什么？", [base], knowledgebase_limit_number=2
    )
    memories, passages = memories_of(result), passages_of(result)
    assert any("鸡肉" in m["memory_value"] for m in memories)
    assert passages
    assert "低敏" in passages[0]["memory_value"]
    assert len(passages) <= 2
    # The memories come first and keep their own limit.
    assert result["memory_detail_list"][: len(memories)] == memories
    without = api.ok("/search/memory", {"user_id": "kb-user", "query": "狗狗拉肚子"})
    assert passages_of(without) == []


def test_searches_with_passages_share_a_one_connection_pool(
    pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A search with knowledge bases reads the passages on a second connection beside its own;
    it lets its own go before waiting for them, so searches holding every connection of the
    pool never wait for each other's passages (here the pool has one)."""
    own_url = fresh_database(pg_url)
    settings = make_settings(
        own_url,
        tmp_path_factory.mktemp("one-connection"),
        database={"url": own_url, "pool_size": 1, "max_overflow": 0, "pool_timeout_s": 5},
        jobs={"poll_interval_s": 0.2},
    )
    running = ServiceThread(settings)
    running.start()
    try:
        with Api(running.base_url, new_api_key(own_url)) as api:
            base = create_base(api)
            [added] = upload(api, base, ("dogs.md", DOG_FOOD_MD.encode()))
            settled(api, [added["id"]])
            started = time.monotonic()
            result = search(api, "狗粮拉肚子怎么办", [base], knowledgebase_limit_number=2)
            assert time.monotonic() - started < 3
            assert "低敏" in passages_of(result)[0]["memory_value"]
    finally:
        running.stop()


@pytest.fixture(scope="module")
def small(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A service with tiny knowledge-base limits, on a database of its own: on the shared one its
    worker would take other tests' jobs (and fail them against its limits), and theirs its own."""
    own_url = fresh_database(pg_url)
    settings = make_settings(
        own_url,
        tmp_path_factory.mktemp("small-kb"),
        knowledge={
            "max_file_bytes": 20_000,
            "max_pages": 2,
            "max_files_per_upload": 2,
            "max_passages_per_file": 3,
            "passage_chars": 50,
        },
        limits={"rate_per_key": 0, "failed_keys_per_minute": 0, "max_body_bytes": 10_000},
        # One attempt: a job that crashes fails for good at once.
        jobs={"poll_interval_s": 0.2, "max_attempts": 1},
    )
    running = ServiceThread(settings)
    running.start()
    with Api(running.base_url, new_api_key(own_url)) as client:
        yield client
    running.stop()


def test_limits_answer_413_or_fail_the_job(small: Api, tmp_path: Path) -> None:
    base = create_base(small)
    big = {"knowledgebase_id": base, "file": [{"name": "a.txt", "content": b64(b"a" * 20_001)}]}
    assert "MEMOS_KNOWLEDGE__MAX_FILE_BYTES" in small.fails(
        "/add/knowledgebase-file", big, 413, 50104
    )
    pages = make_pdf([["one"], ["two"], ["three"]])
    body = {"knowledgebase_id": base, "file": [{"name": "p.pdf", "content": b64(pages)}]}
    assert "3 pages" in small.fails("/add/knowledgebase-file", body, 413, 50104)
    three = [{"name": f"{i}.txt", "content": b64(b"x")} for i in range(3)]
    small.fails("/add/knowledgebase-file", {"knowledgebase_id": base, "file": three}, 413, 50103)
    # Far over the body limit: refused before it is read.
    huge = {"knowledgebase_id": base, "file": [{"name": "h.txt", "content": "A" * 200_000}]}
    small.fails("/add/knowledgebase-file", huge, 413, 40305)

    long_text = "\n\n".join(f"Paragraph number {i} says something different." for i in range(6))
    [added] = upload(small, base, ("long.txt", long_text.encode()))
    [file] = settled(small, [added["id"]])
    assert file["status"] == "failed"
    assert "MEMOS_KNOWLEDGE__MAX_PASSAGES_PER_FILE" in file["reason"]


def test_multipart_upload_as_the_sdk_form_sends_it(api: Api) -> None:
    base = create_base(api)
    files = [
        ("file", ("a.md", DOG_FOOD_MD.encode(), "text/markdown")),
        ("file", ("b.txt", "退货需要保留小票。".encode(), "text/plain")),
    ]
    response = api.http.post(
        "/add/knowledgebase-file", params={"knowledgebase_id": base}, files=files
    )
    added = Api.data_of(response)
    assert [a["name"] for a in added] == ["a.md", "b.txt"]
    assert [f["status"] for f in settled(api, [a["id"] for a in added])] == ["completed"] * 2
    missing = api.http.post("/add/knowledgebase-file", files=files)
    assert "knowledgebase_id" in Api.error_of(missing, 400, 40002)
    # A file name with a raw NUL (httpx would escape it: the form is written by hand).
    form = (
        b"--b\r\n"
        b'Content-Disposition: form-data; name="file"; filename="nul\x00.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\ntext\r\n--b--\r\n"
    )
    named = api.http.post(
        "/add/knowledgebase-file",
        params={"knowledgebase_id": base},
        content=form,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert "file[0].name contains a NUL character" in Api.error_of(named, 400, 40000)
