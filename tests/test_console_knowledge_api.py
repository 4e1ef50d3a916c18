"""The console's knowledge-base reads (console/knowledgebases, console/passages) over real HTTP:
the counts per base, a document's passages in order, paging, isolation between projects, and
refusals of bad input. What the browser does with them is in ``test_console_knowledge.py``."""

from __future__ import annotations

import httpx
import pytest

from memos_server.app import API_PREFIX
from tests.support.api import Api
from tests.support.database import new_api_key
from tests.support.knowledge import create_base, settled, upload
from tests.support.service import ServiceThread

HANDBOOK_MD = """# 宠物食品手册

## 低敏狗粮

狗狗吃了新狗粮拉肚子，常见原因是食物过敏，可以换成低敏狗粮。

## 退货

凭小票三十天内可以退货。
"""
BROKEN_PDF = b"%PDF-1.4\n1 0 obj <<>> garbage without an end"


def test_bases_are_listed_newest_first_with_their_counts(api: Api) -> None:
    assert api.ok("/console/knowledgebases", {}) == {"knowledgebases": [], "total": 0}
    older = create_base(api, "宠物店")
    newer = api.ok(
        "/create/knowledgebase",
        {"knowledgebase_name": "policies", "knowledgebase_description": "退货与保修"},
    )["id"]
    added = upload(api, older, ("手册.md", HANDBOOK_MD.encode()), ("broken.pdf", BROKEN_PDF))
    files = settled(api, [a["id"] for a in added])

    data = api.ok("/console/knowledgebases", {})

    assert data["total"] == 2
    assert [b["id"] for b in data["knowledgebases"]] == [newer, older]
    empty, shop = data["knowledgebases"]
    assert (empty["name"], empty["description"]) == ("policies", "退货与保修")
    assert (empty["files"], empty["running"], empty["failed"], empty["passages"]) == (0, 0, 0, 0)
    assert shop["name"] == "宠物店"
    assert (shop["files"], shop["running"], shop["failed"]) == (2, 0, 1)
    assert shop["passages"] == files[0]["passages"] >= 2
    assert shop["create_time"] <= empty["create_time"]

    page = api.ok("/console/knowledgebases", {"offset": 1, "limit": 1})
    assert [b["id"] for b in page["knowledgebases"]] == [older]
    assert page["total"] == 2


def test_a_documents_passages_come_in_its_order(api: Api) -> None:
    base = create_base(api)
    [added] = upload(api, base, ("手册.md", HANDBOOK_MD.encode()))
    [file] = settled(api, [added["id"]])

    data = api.ok("/console/passages", {"file_id": added["id"]})

    assert data["file"]["name"] == "手册.md"
    assert data["file"]["status"] == "completed"
    assert data["total"] == file["passages"] == len(data["passages"])
    assert [p["position"] for p in data["passages"]] == list(range(data["total"]))
    first, *_, last = data["passages"]
    assert first["heading"] == "宠物食品手册 > 低敏狗粮"
    assert "低敏狗粮" in first["text"]
    assert (last["heading"], last["text"]) == ("宠物食品手册 > 退货", "凭小票三十天内可以退货。")
    assert first["page"] is None  # only a PDF's passages have pages

    page = api.ok("/console/passages", {"file_id": added["id"], "offset": 1, "limit": 1})
    assert [p["position"] for p in page["passages"]] == [1]
    assert page["total"] == data["total"]


def test_a_failed_document_has_its_reason_and_no_passage(api: Api) -> None:
    base = create_base(api)
    [added] = upload(api, base, ("broken.pdf", BROKEN_PDF))
    settled(api, [added["id"]])

    data = api.ok("/console/passages", {"file_id": added["id"]})

    assert data["file"]["status"] == "failed"
    assert "PDF" in data["file"]["reason"]
    assert (data["passages"], data["total"]) == ([], 0)


def test_one_project_sees_nothing_of_anothers_knowledge(
    service: ServiceThread, pg_url: str, api: Api
) -> None:
    base = create_base(api, "mine")
    [added] = upload(api, base, ("手册.md", HANDBOOK_MD.encode()))
    settled(api, [added["id"]])

    with Api(service.base_url, new_api_key(pg_url)) as other:
        assert other.ok("/console/knowledgebases", {}) == {"knowledgebases": [], "total": 0}
        other.fails("/console/passages", {"file_id": added["id"]}, 403, 50123)
        # And the other way round: its base is not in the first project's list.
        theirs = create_base(other, "theirs")
        listed = other.ok("/console/knowledgebases", {})["knowledgebases"]
        assert [b["id"] for b in listed] == [theirs]
    assert [b["id"] for b in api.ok("/console/knowledgebases", {})["knowledgebases"]] == [base]


def test_a_deleted_document_has_no_passages_to_show(api: Api) -> None:
    base = create_base(api)
    [added] = upload(api, base, ("手册.md", HANDBOOK_MD.encode()))
    settled(api, [added["id"]])
    api.ok("/delete/knowledgebase-file", {"file_ids": [added["id"]]})

    api.fails("/console/passages", {"file_id": added["id"]}, 404, 40001)
    [listed] = api.ok("/console/knowledgebases", {})["knowledgebases"]
    assert (listed["files"], listed["passages"]) == (0, 0)


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/console/knowledgebases", {"limit": 0}, 400, 40000),
        ("/console/knowledgebases", {"limit": 501}, 400, 40000),
        ("/console/knowledgebases", {"offset": -1}, 400, 40000),
        ("/console/knowledgebases", [], 400, 40000),
        ("/console/passages", {}, 400, 40002),
        ("/console/passages", {"file_id": "not-an-id"}, 404, 40001),
        ("/console/passages", {"file_id": "0" * 32}, 404, 40001),
        ("/console/passages", {"file_id": "f" * 101}, 413, 40305),
        ("/console/passages", {"file_id": "0" * 32, "limit": 201}, 400, 40000),
    ],
)
def test_bad_input_gets_a_clear_4xx(
    api: Api, path: str, body: object, status: int, code: int
) -> None:
    api.fails(path, body, status, code)


@pytest.mark.parametrize("path", ["/console/knowledgebases", "/console/passages"])
def test_the_knowledge_reads_need_a_valid_key(service: ServiceThread, path: str) -> None:
    with Api(service.base_url, None) as anonymous:
        anonymous.fails(path, {"file_id": "x"}, 401, 40100)
    with Api(service.base_url, "mk-not-a-real-key") as stranger:
        stranger.fails(path, {"file_id": "x"}, 401, 40132)


def test_the_knowledge_reads_are_documented(service: ServiceThread) -> None:
    root = service.base_url.removesuffix(API_PREFIX)
    spec = httpx.get(f"{root}/openapi.json").json()

    for path in ("knowledgebases", "passages"):
        operation = spec["paths"][f"{API_PREFIX}/console/{path}"]["post"]
        assert operation["description"], path
        assert operation["tags"] == ["console"]
    responses = spec["paths"][f"{API_PREFIX}/console/passages"]["post"]["responses"]
    assert {"403", "404"} <= set(responses)
