"""The 100-page target: a generated 100-page PDF, Chinese and English mixed, becomes searchable,
and a question recalls the passage from its page 73. Its speed is measured by
``bench/knowledge_pdf.py``, not asserted here."""

from __future__ import annotations

from tests.support.api import Api
from tests.support.knowledge import (
    HUNDRED_PAGE_NEEDLE_PAGE,
    HUNDRED_PAGE_QUERY,
    create_base,
    hundred_page_pdf,
    make_pdf,
    passages_of,
    settled,
    upload,
)


def test_a_hundred_page_pdf_becomes_searchable(api: Api) -> None:
    base = create_base(api, "邮轮手册")
    [added] = upload(api, base, ("cruise-handbook.pdf", hundred_page_pdf()))
    [file] = settled(api, [added["id"]], timeout_s=600)
    assert file["status"] == "completed", file
    assert file["passages"] >= 100  # about one passage a page at least
    found = passages_of(
        api.ok(
            "/search/memory",
            {"user_id": "reader", "query": HUNDRED_PAGE_QUERY, "knowledgebase_ids": [base]},
        )
    )
    top = found[0]
    assert "周明远" in top["memory_value"]
    # A passage starts where its first sentence is: on page 73, or at the end of page 72.
    assert top["page"] in (HUNDRED_PAGE_NEEDLE_PAGE - 1, HUNDRED_PAGE_NEEDLE_PAGE)
    assert top["file_name"] == "cruise-handbook.pdf"


def test_a_page_filter_past_the_page_columns_range_compares(api: Api) -> None:
    """Whole numbers beyond an integer column: below every page or above every page, never
    a value Postgres refuses."""
    base = create_base(api, "分页")
    pdf = make_pdf([["第一页：退货需要保留小票。"], ["第二页：换货请在七天内办理。"]])
    [added] = upload(api, base, ("pages.pdf", pdf))
    [file] = settled(api, [added["id"]])
    assert file["status"] == "completed", file

    def pages(compared: dict[str, int]) -> list[int]:
        body = {
            "user_id": "reader",
            "query": "退货 换货",
            "knowledgebase_ids": [base],
            "relativity": 0,
            "filter": {"knowledgebase": {"page": compared}},
        }
        return sorted(p["page"] for p in passages_of(api.ok("/search/memory", body)))

    every = pages({"gte": 1})
    assert every  # the passages carry their page
    assert pages({"lt": 2**31}) == every
    assert pages({"lte": 10**30}) == every
    assert pages({"gt": -(2**63)}) == every
    assert pages({"gt": 2**31}) == []
    assert pages({"eq": 2**63}) == []
    assert pages({"lt": -(10**20)}) == []
