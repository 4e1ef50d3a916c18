"""``/docs`` and ``/redoc`` work without internet: headless Chromium (Debian's ``chromium``,
driven by Playwright) opens each page with every request to a host other than the service's
loopback address refused, then checks that none was even attempted and that the page lists
every operation of ``/openapi.json``.

Screenshots are saved in ``test-artifacts/api-docs/``. Where ``/usr/bin/chromium`` or the
``playwright`` package is missing, these tests skip and say why.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from memos_server.app import API_PREFIX
from tests.support.paths import ROOT
from tests.support.service import ServiceThread

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts" / "api-docs"
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
METHODS = ("get", "put", "post", "delete", "patch")
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium) "
        "to run the API docs' browser tests",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing (pip install -e '.[dev]')"
)
expect = sync_api.expect


class OfflineBrowser:
    """Chromium in which only loopback hosts answer; what else a page asked for is kept."""

    def __init__(self) -> None:
        self.playwright = sync_api.sync_playwright().start()
        self.browser: Browser = self.playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        self.refused: list[str] = []
        self.errors: list[str] = []
        self.blocked: list[str] = []

    def open(self, url: str) -> Page:
        self.refused, self.errors, self.blocked = [], [], []
        # Routed on the context, not the page, so requests a page does not own (a favicon, a
        # worker's fetch) are held to the same rule.
        context = self.browser.new_context(viewport={"width": 1440, "height": 1000})
        context.route("**/*", self._only_loopback)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("pageerror", lambda error: self.errors.append(f"{url}: {error}"))
        page.on("console", self._console_message)
        page.goto(url)
        return page

    def _only_loopback(self, route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.hostname in LOOPBACK:
            route.continue_()
        else:
            self.refused.append(url)
            route.abort("internetdisconnected")

    def _console_message(self, message: Any) -> None:
        # What the pages' Content-Security-Policy stopped before it became a request.
        if "Content Security Policy" in message.text:
            self.blocked.append(message.text)

    def close(self) -> None:
        self.browser.close()
        self.playwright.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[OfflineBrowser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    running = OfflineBrowser()
    yield running
    running.close()


def root_of(service: ServiceThread) -> str:
    return service.base_url.removesuffix(API_PREFIX)


def operations(service: ServiceThread) -> dict[tuple[str, str], str]:
    """Every operation of the schema: (METHOD, path) -> operationId."""
    spec: dict[str, Any] = httpx.get(f"{root_of(service)}/openapi.json").json()
    return {
        (method.upper(), path): operation["operationId"]
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_swagger_ui_lists_every_operation_offline(
    service: ServiceThread, browser: OfflineBrowser
) -> None:
    expected = operations(service)
    page = browser.open(f"{root_of(service)}/docs")

    blocks = page.locator(".opblock")
    expect(blocks).to_have_count(len(expected))
    shown = set()
    for i in range(blocks.count()):
        block = blocks.nth(i)
        method = block.locator(".opblock-summary-method").inner_text().strip()
        path = block.locator(".opblock-summary-path").get_attribute("data-path")
        shown.add((method, path))
    page.screenshot(path=str(SHOTS / "swagger-ui.png"), full_page=True)

    assert shown == set(expected)
    # Operations read like a reference: the route's summary, not its function's name.
    expect(page.locator(".opblock-summary-description", has_text="Search memories")).to_have_count(
        1
    )
    assert not browser.refused, browser.refused
    assert not browser.blocked, browser.blocked
    assert not browser.errors, browser.errors


def test_redoc_lists_every_operation_offline(
    service: ServiceThread, browser: OfflineBrowser
) -> None:
    expected = operations(service)
    page = browser.open(f"{root_of(service)}/redoc")

    # ReDoc gives each operation a section named after its operationId.
    sections = page.locator('[data-section-id^="operation/"]')
    expect(sections).to_have_count(len(expected))
    for (method, path), operation_id in expected.items():
        section = page.locator(f'[data-section-id="operation/{operation_id}"]')
        expect(section).to_have_count(1)
        # The endpoint box shows the method and the path, as the schema has them.
        endpoint = section.locator("button", has_text=path).first
        expect(endpoint).to_contain_text(method.lower(), ignore_case=True)
    expect(page.locator("h1", has_text="memos-server")).to_be_visible()
    page.screenshot(path=str(SHOTS / "redoc.png"), full_page=False)

    assert not browser.refused, browser.refused
    # Only the "API docs by Redocly" logo, named in ReDoc's code, is stopped (and not missed).
    assert all(REDOCLY_LOGO in text for text in browser.blocked), browser.blocked
    assert not browser.errors, browser.errors


def test_the_docs_files_are_served_by_the_service(service: ServiceThread) -> None:
    """What the pages name is here, with no address but the service's own."""
    root = root_of(service)
    for page in ("/docs", "/redoc"):
        html = httpx.get(root + page).text
        assert not re.search(r"https?://", html), page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"):
        answer = httpx.get(f"{root}/docs-assets/{asset}")
        assert answer.status_code == 200, asset
        assert len(answer.content) > 1000, asset
