"""The web console end to end, in headless Chromium (Debian's ``chromium`` package) driven by
Playwright: log in, see what an add stored and what it became, search, edit, archive, delete, chat.

Screenshots of each step are saved in ``test-artifacts/console/``. Where ``/usr/bin/chromium`` or
the ``playwright`` package is missing, these tests skip and say why (``.ci/run`` installs the
browser with apt-get).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from memos_server.app import API_PREFIX
from tests.fake_llm import FakeLLM, Reply, reply_json
from tests.support.api import Api
from tests.support.conversations import ENGLISH_TRIP, SEED_HOTEL
from tests.support.paths import ROOT
from tests.support.service import ServiceThread

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts" / "console"
XSS = '<img src=x onerror="window.__xss = 1"> and <b>not bold</b>'
HOTEL_QUERY = "我国庆想出去玩，帮我推荐个没住过的酒店品牌"

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium) "
        "to run the console's browser tests",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing (pip install -e '.[dev]')"
)
expect = sync_api.expect
# Assertions wait as long as actions do: on a loaded 2-core machine a fetch the console makes
# after a click can take longer than Playwright's 5 s default.
expect.set_options(timeout=15_000)


class Console:
    """Chromium pointed at one service's console. The browser starts on first use: Playwright's
    sync API runs an event loop, and the test helpers that call ``asyncio.run`` (making keys)
    must have run before it starts."""

    def __init__(self) -> None:
        self.playwright: Playwright | None = None
        self.browser: Browser | None = None
        self.problems: list[str] = []

    def open(self, service: ServiceThread) -> Page:
        if self.browser is None:
            self.playwright = sync_api.sync_playwright().start()
            self.browser = self.playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
            )
        page = self.browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", self._console_message)
        page.goto(service.base_url.removesuffix(API_PREFIX) + "/console")
        return page

    def _console_message(self, message: Any) -> None:
        # A refused key is a 401 the browser logs; a blocked script or style is a real problem.
        if "Content Security Policy" in message.text:
            self.problems.append(f"CSP: {message.text}")

    def close(self) -> None:
        if self.browser is not None:
            self.browser.close()
        if self.playwright is not None:
            self.playwright.stop()


@pytest.fixture
def console() -> Iterator[Console]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    running = Console()
    yield running
    running.close()
    assert not running.problems


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page: Page, key: str) -> None:
    page.fill("#login-key", key)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#app")).to_be_visible()


def open_user(page: Page, user_id: str) -> None:
    page.locator("button.user", has_text=user_id).click()
    expect(page.locator("#user-title")).to_have_text(user_id)


def tab(page: Page, name: str) -> None:
    page.click(f'[data-tab="{name}"]')


def search(page: Page, query: str) -> None:
    tab(page, "search")
    page.fill('textarea[name="query"]', query)
    page.click('form.playground button[type="submit"]')
    expect(page.locator("#instruction")).to_contain_text(query)


def add(api: Api, user_id: str, conversation_id: str, messages: list[dict[str, Any]]) -> Any:
    return api.ok(
        "/add/message",
        {
            "user_id": user_id,
            "conversation_id": conversation_id,
            "messages": messages,
            "async_mode": False,
        },
    )


def searched_ids(api: Api, user_id: str, query: str) -> set[str]:
    found = api.ok("/search/memory", {"user_id": user_id, "query": query})
    return {m["id"] for m in found["memory_detail_list"] + found["preference_detail_list"]}


def test_log_in_see_memories_search_and_delete(
    service: ServiceThread, api: Api, api_key: str, console: Console
) -> None:
    user = "张三"
    add(api, user, "hotel-0610", SEED_HOTEL)
    add(api, user, "xss", [{"role": "user", "content": XSS}])
    page = console.open(service)

    # A wrong key is told so, plainly.
    expect(page.locator("#login")).to_be_visible()
    shot(page, "01-login")
    page.fill("#login-key", "mk-not-a-real-key")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("Login failed")
    expect(page.locator("#login-error")).to_contain_text("40132")
    shot(page, "02-login-wrong-key")

    log_in(page, api_key)
    expect(page.locator("#project")).to_contain_text("test-")
    users = page.locator("button.user")
    expect(users).to_have_count(1)
    expect(users.first).to_contain_text(f"{len(SEED_HOTEL) + 1} msgs · 2 conv")

    # The conversation's messages, each with the memories made from it beside it.
    open_user(page, user)
    page.locator("button.conversation", has_text="hotel-0610").click()
    turns = page.locator(".turn")
    expect(turns).to_have_count(len(SEED_HOTEL))
    for i, message in enumerate(SEED_HOTEL):
        expect(turns.nth(i).locator(".message-text")).to_have_text(message["content"])
    first_card = turns.first.locator(".memory-card").first
    expect(first_card).to_contain_text(SEED_HOTEL[0]["content"])
    expect(first_card.locator(".pill.mode-fast")).to_have_text("fast")
    first_card.locator("button", has_text="history").click()
    expect(first_card.locator(".history-row")).to_contain_text("ADD")
    shot(page, "03-conversation-with-memories")

    # Text is text: the markup in a message is shown, never run.
    page.locator("button.conversation", has_text="xss").click()
    expect(page.locator(".thread-head h3")).to_have_text("xss")
    expect(page.locator(".turn .message-text")).to_have_text(XSS)
    assert page.locator(".thread img, .thread b").count() == 0
    assert page.evaluate("window.__xss") is None
    shot(page, "04-markup-shown-as-text")

    # Every memory of the user, with its history.
    tab(page, "memories")
    stored = api.ok("/get/memory", {"user_id": user, "size": 50})["memory_detail_list"]
    rows = page.locator("tr.memory")
    expect(rows).to_have_count(len(stored))
    rows.first.locator("button", has_text="History").click()
    expect(page.locator("tr.details .history-row").first).to_contain_text("ADD")
    shot(page, "05-memories")

    # The playground shows what search/memory answers, scores and the instruction prompt.
    search(page, HOTEL_QUERY)
    results = page.locator(".result")
    expect(results.first).to_be_visible()
    top = results.first.get_attribute("data-memory-id")
    assert top is not None
    assert re.fullmatch(r"0\.\d{3}|1\.000", results.first.locator(".score").inner_text())
    expect(page.locator("#instruction")).to_contain_text("用户记忆")
    shot(page, "06-search-playground")

    # Deleting the top result in the console takes it out of search, here and through the API.
    tab(page, "memories")
    row = page.locator(f'tr.memory[data-memory-id="{top}"]')
    row.locator("button.danger").click()
    expect(row.locator("button.danger")).to_have_text("Delete for good?")
    row.locator("button.danger").click()
    expect(row).to_have_count(0)
    expect(rows).to_have_count(len(stored) - 1)
    search(page, HOTEL_QUERY)
    expect(page.locator(f'.result[data-memory-id="{top}"]')).to_have_count(0)
    shot(page, "07-search-after-delete")
    assert top not in searched_ids(api, user, HOTEL_QUERY)


def test_edit_archive_and_restore_a_memory(
    service: ServiceThread, api: Api, api_key: str, console: Console
) -> None:
    add(api, "u1", "trip", ENGLISH_TRIP)
    [memory, *_] = api.ok("/get/memory", {"user_id": "u1"})["memory_detail_list"]
    page = console.open(service)
    log_in(page, api_key)
    open_user(page, "u1")
    tab(page, "memories")
    row = page.locator(f'tr.memory[data-memory-id="{memory["id"]}"]')

    row.locator("button", has_text="Edit").click()
    page.fill("form.edit textarea", "用户喜欢海边，儿子爱游泳。")
    page.click('form.edit button[type="submit"]')
    expect(row.locator(".memory-text")).to_have_text("用户喜欢海边，儿子爱游泳。")
    assert Api.data_of(api.get(f"/get/memory/{memory['id']}"))["memory_value"] == (
        "用户喜欢海边，儿子爱游泳。"
    )

    row.locator("button", has_text="Archive").click()
    expect(row.locator(".pill.archived")).to_have_text("archived")
    assert memory["id"] not in searched_ids(api, "u1", "海边")
    shot(page, "08-archived")
    row.locator("button", has_text="History").click()
    events = page.locator("tr.details .history-head .pill")
    expect(events).to_have_text(["ADD", "UPDATE", "ARCHIVE"])

    row.locator("button", has_text="Restore").click()
    expect(row.locator(".pill.activated")).to_have_text("activated")
    assert memory["id"] in searched_ids(api, "u1", "海边")


HOTEL_FACT = {
    "memory_key": "暑假广州旅游计划",
    "memory_value": "[user观点]用户计划暑假去广州旅游，选择了七天连锁酒店。",
    "tags": ["旅游", "酒店"],
    "memory_type": "UserMemory",
    "confidence": 0.95,
}
HOTEL_PREFERENCE = {
    "preference_type": "implicit_preference",
    "preference": "用户可能偏好性价比较高的酒店。",
    "reasoning": "七天酒店以经济实惠著称。",
    "tags": ["酒店"],
    "confidence": 0.7,
}


def test_fine_memories_beside_fast_ones_and_chat(
    fine_service: ServiceThread, fine_api: Api, fake_llm: FakeLLM, console: Console
) -> None:
    # One add whose fine extraction fails keeps its fast memories; one that succeeds is refined.
    fake_llm.script({"facts": Reply(status=500), "preferences": Reply(status=500)})
    assert add(fine_api, "李四", "beach", ENGLISH_TRIP)["status"] == "failed"
    fake_llm.script(
        {
            "facts": reply_json({"memories": [HOTEL_FACT]}),
            "preferences": reply_json({"preferences": [HOTEL_PREFERENCE]}),
            "chat": Reply(content="推荐您试试全季酒店。"),
        }
    )
    assert add(fine_api, "李四", "hotel", SEED_HOTEL)["status"] == "completed"
    key = fine_api.http.headers["authorization"].removeprefix("Token ")
    page = console.open(fine_service)
    log_in(page, key)
    expect(page.locator("#mode")).to_contain_text("fine mode")
    open_user(page, "李四")

    # The refined conversation: fine memories beside its messages, the fast ones archived.
    page.locator("button.conversation", has_text="hotel").click()
    fine_card = page.locator(".memory-card", has_text=HOTEL_FACT["memory_key"])
    expect(fine_card.locator(".pill.mode-fine")).to_have_text("fine")
    expect(page.locator(".memory-card.archived .pill.mode-fast").first).to_be_visible()
    fine_card.locator("button", has_text="history").click()
    expect(fine_card.locator(".history-row")).to_contain_text(SEED_HOTEL[2]["content"])
    shot(page, "09-fine-conversation")

    # Search: the fine facts and the fast ones side by side, and the preference.
    search(page, HOTEL_QUERY)
    expect(page.locator('[data-column="fine"] .result')).to_contain_text(HOTEL_FACT["memory_key"])
    expect(page.locator('[data-column="fast"] .result').first).to_be_visible()
    expect(page.locator('[data-column="preferences"] .result')).to_contain_text(
        HOTEL_PREFERENCE["preference"]
    )
    shot(page, "10-fast-and-fine-side-by-side")

    # Chat: the model answers, and the exchange is stored like any client's.
    tab(page, "chat")
    conversation = page.locator('input[aria-label="Conversation id"]').input_value()
    page.fill('textarea[aria-label="Message"]', "帮我推荐个酒店")
    page.click('form.chat-form button[type="submit"]')
    expect(page.locator(".transcript .role-assistant .message-text")).to_have_text(
        "推荐您试试全季酒店。"
    )
    shot(page, "11-chat")
    asked = {"user_id": "李四", "conversation_id": conversation}
    stored = fine_api.ok("/get/message", asked)["message_detail_list"]
    assert [(m["role"], m["content"]) for m in stored] == [
        ("user", "帮我推荐个酒店"),
        ("assistant", "推荐您试试全季酒店。"),
    ]


def test_chat_is_hidden_without_an_llm(
    service: ServiceThread, api: Api, api_key: str, console: Console
) -> None:
    add(api, "u1", "trip", ENGLISH_TRIP[:2])
    page = console.open(service)
    log_in(page, api_key)
    expect(page.locator("#mode")).to_contain_text("fast mode (no LLM)")
    open_user(page, "u1")
    expect(page.locator('[data-tab="chat"]')).to_be_hidden()


def test_the_key_lives_in_the_tab_and_never_in_a_url(
    service: ServiceThread, api_key: str, console: Console
) -> None:
    page = console.open(service)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    log_in(page, api_key)
    expect(page.locator("#users")).to_contain_text("No users yet")

    assert page.evaluate("sessionStorage.length") == 1
    assert page.evaluate("localStorage.length") == 0
    assert requests
    assert not [url for url in requests if api_key in url]
    page.reload()  # the same tab stays logged in
    expect(page.locator("#app")).to_be_visible()
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_a_users_profile_in_its_tab(
    service: ServiceThread, api: Api, api_key: str, console: Console
) -> None:
    tree = {
        "基本信息": {
            "职业": {"value": "", "algorithm_updatable": True},
            "所在城市": {"value": "", "algorithm_updatable": True},
        },
        "备注": {"value": "", "algorithm_updatable": True},
    }
    template = api.ok("/add/profile_template", {"name": "客服用户画像", "metadata": tree})[
        "profile_template_id"
    ]
    api.ok(
        "/bind/profile_template",
        {"bind_list": [{"user_id": "王芳", "profile_template_id": template}]},
    )
    api.ok(
        "/edit/profile",
        {
            "user_id": "王芳",
            "profile_template_id": template,
            "metadata": {
                "基本信息": {
                    "职业": {"value": "产品经理"},
                    "所在城市": {"value": "上海", "algorithm_updatable": False},
                },
                "备注": {"value": XSS},
            },
        },
    )
    page = console.open(service)
    log_in(page, api_key)
    page.fill("#open-user-id", "王芳")
    page.click('#open-user button[type="submit"]')
    expect(page.locator("#user-title")).to_have_text("王芳")

    tab(page, "profile")

    card = page.locator(f'section.profile[data-template="{template}"]')
    expect(card.locator("h3")).to_contain_text("客服用户画像")
    expect(card.locator('tr[data-path="基本信息.职业"]')).to_contain_text("产品经理")
    city = card.locator('tr[data-path="基本信息.所在城市"]')
    expect(city).to_contain_text("上海")
    expect(city.locator(".pill.locked")).to_have_text("locked")
    expect(card.locator('tr[data-path="备注"] td').nth(1)).to_have_text(XSS)
    assert page.locator("section.profile img, section.profile b").count() == 0
    assert page.evaluate("window.__xss") is None
    shot(page, "12-profile")

    # A user without a profile is told how to get one.
    page.fill("#open-user-id", "无画像用户")
    page.click('#open-user button[type="submit"]')
    expect(page.locator("#tab-profile")).to_contain_text("bind a profile template")
