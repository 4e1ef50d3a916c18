"""The console's Knowledge view in headless Chromium, as ``test_console.py`` drives the rest:
create a knowledge base, upload a Chinese Markdown document (and a damaged PDF), watch them
finish, read the passages, search with the base included and see its passages apart from the
user's memories, then delete the document and the base.

Screenshots go to ``test-artifacts/console/`` (``2x-...``). Skips where ``test_console.py`` skips.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.support.api import Api
from tests.support.knowledge import create_base, settled, upload
from tests.support.service import ServiceThread
from tests.test_console import XSS, Console, add, expect, log_in, open_user, shot, tab
from tests.test_console import console as console  # the fixture

if TYPE_CHECKING:
    from playwright.sync_api import Page

HANDBOOK = "宠物食品手册.md"
HANDBOOK_MD = f"""# 宠物食品手册

## 低敏狗粮

狗狗吃了新狗粮拉肚子，常见原因是食物过敏，可以换成低敏狗粮。
低敏幼犬粮推荐：B（鸡肉味）、C（三文鱼味）。

## 退货

凭小票三十天内可以退货。{XSS}
"""
DOG = [
    {"role": "user", "content": "我家小狗是三个月大的金毛，它不吃鸡肉味的狗粮。"},
    {"role": "assistant", "content": "好的，我记住了，它不吃鸡肉味。"},
]
QUESTION = "狗狗吃了这个狗粮拉肚子，想换一种，推荐什么？"
# The console's Chinese fonts (console.css), one of which CI installs (fonts-wqy-microhei).
CJK_FONTS = {
    "PingFang SC",
    "Hiragino Sans GB",
    "Microsoft YaHei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
}


def knowledge_view(page: Page) -> None:
    page.click('[data-view="knowledge"]')
    expect(page.locator("#knowledge-view")).to_be_visible()


def fonts_of(page: Page, selector: str) -> dict[str, int]:
    """The fonts Chromium drew the first ``selector``'s text with, and their glyph counts."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return {f["familyName"]: f["glyphCount"] for f in fonts}


def assert_drawn_in_chinese_fonts(page: Page, selector: str) -> None:
    text = page.locator(selector).first.inner_text()
    han = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
    fonts = fonts_of(page, selector)
    assert sum(n for name, n in fonts.items() if name in CJK_FONTS) >= han, fonts


def test_upload_read_search_and_delete_a_chinese_document(
    service: ServiceThread, api: Api, api_key: str, console: Console
) -> None:
    add(api, "张三", "dog", DOG)
    page = console.open(service)
    log_in(page, api_key)

    # A new project has no knowledge base; make one.
    knowledge_view(page)
    expect(page.locator("#knowledge-view .bases")).to_contain_text("No knowledge bases yet")
    expect(page.locator(".sidebar")).to_be_hidden()
    page.fill('input[aria-label="Knowledge base name"]', "宠物店手册")
    page.fill('input[aria-label="Knowledge base description"]', XSS)
    page.click('form.create-base button[type="submit"]')
    base = page.locator("button.base.selected")
    expect(base).to_contain_text("宠物店手册")
    expect(page.locator("#base-title")).to_have_text("宠物店手册")
    expect(page.locator(".base-detail")).to_contain_text(XSS)  # text, never markup
    shot(page, "20-knowledge-base-created")

    # Upload a Chinese Markdown document and a damaged PDF through the form (multipart).
    page.set_input_files(
        'input[type="file"]',
        files=[
            {"name": HANDBOOK, "mimeType": "text/markdown", "buffer": HANDBOOK_MD.encode()},
            {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 junk"},
        ],
    )
    page.click('form.upload button[type="submit"]')
    rows = page.locator("tr.file")
    expect(rows).to_have_count(2)
    handbook = page.locator("tr.file", has_text=HANDBOOK)
    broken = page.locator("tr.file", has_text="broken.pdf")
    # Processed by a job: the page looks again until both are done.
    expect(handbook.locator(".pill.file-completed")).to_have_text("completed", timeout=90_000)
    expect(broken.locator(".pill.file-failed")).to_have_text("failed", timeout=90_000)
    expect(broken.locator(".reason")).to_contain_text("PDF")
    [stored] = api.ok("/console/knowledgebases", {})["knowledgebases"]
    assert (stored["name"], stored["files"], stored["failed"]) == ("宠物店手册", 2, 1)
    expect(base).to_contain_text(f"{stored['passages']} passages")
    expect(base).to_contain_text("1 failed")
    assert_drawn_in_chinese_fonts(page, "tr.file .file-name")
    shot(page, "21-knowledge-documents")

    # Its passages, in order, with their headings; markup in a document stays text.
    handbook.locator("button", has_text="Passages").click()
    passages = page.locator(".passage")
    expect(passages).to_have_count(stored["passages"])
    expect(passages.first.locator(".pill.position")).to_have_text("position 0")
    expect(passages.first.locator(".heading")).to_have_text("宠物食品手册 > 低敏狗粮")
    expect(passages.first.locator(".memory-text")).to_contain_text("低敏狗粮")
    assert passages.first.locator(".memory-text").get_attribute("lang") == "zh"
    expect(passages.last).to_contain_text(XSS)
    assert page.locator("#knowledge-view img, #knowledge-view b").count() == 0
    assert page.evaluate("window.__xss") is None
    assert_drawn_in_chinese_fonts(page, ".passage .memory-text")
    shot(page, "22-knowledge-passages")

    # The playground: with the base ticked, its passages come apart from the memories.
    page.click('[data-view="users"]')
    open_user(page, "张三")
    tab(page, "search")
    page.locator("fieldset.bases-pick label", has_text="宠物店手册").locator("input").check()
    page.fill('textarea[name="query"]', QUESTION)
    page.click('form.playground button[type="submit"]')
    documents = page.locator('[data-column="documents"]')
    expect(documents.locator(".result").first).to_contain_text(HANDBOOK)
    expect(documents.locator(".result").first).to_contain_text("position")
    expect(documents.locator(".result").first.locator(".pill.document")).to_have_text("document")
    expect(documents.locator("h3")).to_contain_text("Documents")
    facts = page.locator('[data-column="facts"]')
    expect(facts.locator(".result").first).to_contain_text("鸡肉")
    assert facts.locator(".passage-result").count() == 0
    assert documents.locator(".result[data-memory-id]").count() == 0
    assert_drawn_in_chinese_fonts(page, '[data-column="documents"] .memory-text')
    shot(page, "23-search-with-documents")

    # Delete the document, then the base.
    knowledge_view(page)
    handbook.locator("button.danger").click()
    expect(handbook.locator("button.danger")).to_have_text("Delete for good?")
    handbook.locator("button.danger").click()
    expect(rows).to_have_count(1)
    expect(base).to_contain_text("0 passages")
    page.locator(".base-detail button.danger", has_text="Delete knowledge base").click()
    page.locator(".base-detail button.danger", has_text="Delete it and all").click()
    expect(page.locator("#knowledge-view .bases")).to_contain_text("No knowledge bases yet")
    assert api.ok("/console/knowledgebases", {}) == {"knowledgebases": [], "total": 0}
    shot(page, "24-knowledge-base-deleted")

    # The playground no longer offers the base.
    page.click('[data-view="users"]')
    expect(page.locator("#user-title")).to_have_text("张三")
    expect(page.locator("fieldset.bases-pick")).to_be_hidden()


def test_the_playground_offers_no_bases_when_there_are_none(
    service: ServiceThread, api: Api, api_key: str, console: Console
) -> None:
    add(api, "u1", "dog", DOG)
    page = console.open(service)
    log_in(page, api_key)
    open_user(page, "u1")
    tab(page, "search")
    page.fill('textarea[name="query"]', QUESTION)
    page.click('form.playground button[type="submit"]')
    expect(page.locator('[data-column="facts"] .result').first).to_be_visible()
    expect(page.locator("fieldset.bases-pick")).to_be_hidden()
    assert page.locator('[data-column="documents"]').count() == 0


def test_a_base_made_elsewhere_shows_with_its_documents(
    service: ServiceThread, api: Api, api_key: str, console: Console
) -> None:
    base = create_base(api, "made by the SDK")
    [added] = upload(api, base, (HANDBOOK, HANDBOOK_MD.encode()))
    settled(api, [added["id"]])
    page = console.open(service)
    log_in(page, api_key)
    knowledge_view(page)
    page.locator("button.base", has_text="made by the SDK").click()
    row = page.locator(f'tr.file[data-file-id="{added["id"]}"]')
    expect(row.locator(".pill.file-completed")).to_have_text("completed")
    expect(row.locator(".file-name")).to_have_text(HANDBOOK)
