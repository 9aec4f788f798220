"""The web client (web/) in a real browser: Playwright driving Debian's Chromium against a local
gateway. Run by scripts/test-web.sh, which starts the gateway and sets WEB_BASE, CHROMIUM and
WEB_OUT (where the screenshots go)."""

import os
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

BASE = os.environ.get("WEB_BASE", "http://127.0.0.1:4000")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
OUT = Path(os.environ.get("WEB_OUT", "target/web"))
PASSWORD = "correct horse battery"

expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


class User:
    """One person: a browser context (its own storage), a page on the app, the WebSocket URLs
    the page opened, and what the console reported."""

    def __init__(self, browser: Browser, prefix: str, viewport=None):
        self.name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.context: BrowserContext = browser.new_context(viewport=viewport or {"width": 1100, "height": 800})
        self.page: Page = self.context.new_page()
        self.ws_urls: list[str] = []
        self.errors: list[str] = []
        self.page.on("websocket", lambda ws: self.ws_urls.append(ws.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def register(self):
        page = self.page
        page.goto(BASE + "/")
        page.get_by_label("Username", exact=True).fill(self.name)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Register").click()
        expect(page.locator("#chat-view")).to_be_visible()
        self.expect_connected()
        return self

    def expect_connected(self):
        expect(self.page.locator("#connection")).to_have_attribute("data-state", "open")

    def start_with(self, other: "User"):
        self.page.get_by_label("Chat with (username)").fill(other.name)
        self.page.get_by_label("Chat with (username)").press("Enter")
        expect(self.page.locator("#conv-title")).to_have_text(other.name)

    def open(self, name: str):
        self.page.locator("#conversation-list button", has_text=name).click()
        expect(self.page.locator("#conv-title")).to_have_text(name)

    def send(self, text: str):
        box = self.page.get_by_label("Message", exact=True)
        box.fill(text)
        box.press("Enter")

    def text(self, text: str):
        """A message text exactly `text` (relative: usable in `has=`)."""
        return self.page.locator(".text").filter(has_text=re.compile("^" + re.escape(text) + "$"))

    def messages(self, text: str):
        return self.page.locator("#message-list").locator(self.text(text))

    def message(self, text: str):
        return self.page.locator("#message-list .message").filter(has=self.text(text))

    def mine(self, text: str):
        return self.page.locator("#message-list .message.mine").filter(has=self.text(text))

    def shot(self, name: str):
        OUT.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(OUT / f"{name}.png"))

    def check_no_token_in_urls(self):
        assert self.ws_urls, "the page opened no WebSocket"
        for url in self.ws_urls:
            assert "token=" not in url, f"a JWT in a WebSocket URL: {url}"
            assert "ticket=" in url, f"a WebSocket opened without a ticket: {url}"
        assert not [e for e in self.errors if "Content Security Policy" in e], self.errors

    def close(self):
        self.check_no_token_in_urls()
        self.context.close()


@pytest.fixture
def people(browser):
    made: list[User] = []

    def make(prefix: str, viewport=None) -> User:
        u = User(browser, prefix, viewport).register()
        made.append(u)
        return u

    yield make
    for u in made:
        u.close()


def test_the_page_is_served_with_a_strict_policy(browser):
    ctx = browser.new_context()
    res = ctx.request.get(BASE + "/", headers={"accept": "text/html"})
    assert res.status == 200 and res.headers["content-type"].startswith("text/html")
    csp = res.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert res.headers["cache-control"] == "no-cache"
    js = ctx.request.get(BASE + "/js/app.js")
    assert js.headers["content-type"].startswith("text/javascript")
    info = ctx.request.get(BASE + "/", headers={"accept": "application/json"}).json()
    assert info["data"]["service"] == "chat local gateway"
    ctx.close()


def test_two_people_chat_live_with_typing_ticks_edits_and_reactions(people):
    alice, bob = people("alice"), people("bob")
    alice.start_with(bob)
    alice.send("hello bob")
    # Bob's page is connected: the message is delivered at once, and the list shows it unread.
    expect(alice.mine("hello bob").locator(".tick")).to_have_attribute("data-state", "delivered")
    row = bob.page.locator("#conversation-list button", has_text=alice.name)
    expect(row).to_contain_text("hello bob")
    expect(row.locator(".unread")).to_have_text("1")
    expect(row.locator(".dot")).to_have_attribute("data-status", "online")
    bob.shot("conversation-list")

    bob.open(alice.name)
    expect(bob.messages("hello bob")).to_have_count(1)
    expect(alice.mine("hello bob").locator(".tick")).to_have_attribute("data-state", "read")
    expect(row.locator(".unread")).to_have_count(0)

    # Typing shows while Bob types and clears when he sends.
    bob.page.get_by_label("Message", exact=True).press_sequentially("hi al")
    expect(alice.page.locator("#typing")).to_have_text(f"{bob.name} is typing…")
    bob.page.get_by_label("Message", exact=True).press_sequentially("ice")
    bob.page.get_by_label("Message", exact=True).press("Enter")
    expect(alice.messages("hi alice")).to_have_count(1)
    expect(alice.page.locator("#typing")).to_have_text("")
    expect(bob.mine("hi alice").locator(".tick")).to_have_attribute("data-state", "read")

    # Shift+Enter is a new line, Enter sends.
    box = alice.page.get_by_label("Message", exact=True)
    box.fill("line one")
    box.press("Shift+Enter")
    box.press_sequentially("line two")
    box.press("Enter")
    expect(bob.messages("line one\nline two")).to_have_count(1)

    # An edit shows on both sides; a reaction counts on both sides, with Bob's marked his.
    alice.mine("hello bob").get_by_role("button", name="Edit message").click()
    alice.page.get_by_label("Message", exact=True).fill("hello bob, edited")
    alice.page.get_by_label("Message", exact=True).press("Enter")
    expect(bob.messages("hello bob, edited")).to_have_count(1)
    expect(bob.message("hello bob, edited").locator(".edited")).to_be_visible()
    bob.message("hello bob, edited").get_by_role("button", name="React 👍").click()
    expect(alice.mine("hello bob, edited").locator(".reaction")).to_have_text("👍 1")
    bob_reaction = bob.message("hello bob, edited").locator(".reaction")
    expect(bob_reaction).to_have_attribute("aria-pressed", "true")
    alice.shot("conversation")

    # Status: Bob goes busy, Alice's dot follows.
    bob.page.get_by_label("My status").select_option("busy")
    expect(alice.page.locator("#conv-presence")).to_have_attribute("data-status", "busy")

    # History after a reload: the same messages, once each, edits and reactions included.
    alice.page.reload()
    alice.expect_connected()
    alice.open(bob.name)
    expect(alice.messages("hello bob, edited")).to_have_count(1)
    expect(alice.messages("hi alice")).to_have_count(1)
    expect(alice.mine("hello bob, edited").locator(".reaction")).to_have_text("👍 1")


def test_html_in_a_message_is_shown_as_text(people):
    alice, bob = people("alice"), people("bob")
    payload = '<img src=x onerror="window.__xss=1"><b>bold</b>'
    alice.start_with(bob)
    alice.send(payload)
    bob.open(alice.name)
    expect(bob.messages(payload)).to_have_count(1)
    for u in (alice, bob):
        assert u.page.locator("#message-list img, #message-list b, #conversation-list img").count() == 0
        assert u.page.evaluate("window.__xss") is None
    expect(bob.page.locator("#conversation-list button", has_text=alice.name)).to_contain_text(payload)


def test_a_phone_viewport_has_no_horizontal_scroll(people):
    alice = people("alice", viewport={"width": 375, "height": 740})
    bob = people("bob")

    def no_horizontal_scroll():
        width = alice.page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert width[0] <= width[1], f"scrollWidth {width[0]} > clientWidth {width[1]}"

    no_horizontal_scroll()
    alice.start_with(bob)
    alice.send("a-very-long-word-" * 20)
    alice.send("short")
    expect(alice.mine("short").locator(".tick")).to_have_attribute("data-state", "delivered")
    no_horizontal_scroll()
    alice.shot("phone-conversation")
    alice.page.get_by_role("button", name="Back to conversations").click()
    expect(alice.page.locator("#conversation-list")).to_be_visible()
    no_horizontal_scroll()
    alice.shot("phone-list")


def test_offline_sends_queue_and_arrive_once_and_a_returning_reader_catches_up(people):
    alice, bob = people("alice"), people("bob")
    alice.start_with(bob)
    alice.send("before")
    bob.open(alice.name)
    expect(bob.messages("before")).to_have_count(1)

    # Alice loses the network: her send is queued, then delivered once when she is back.
    alice.context.set_offline(True)
    expect(alice.page.locator("#connection")).not_to_have_attribute("data-state", "open")
    alice.send("sent while offline")
    expect(alice.page.locator(".message.pending .tick")).to_have_attribute("data-state", "queued")
    alice.shot("offline-queued")
    bob.page.wait_for_timeout(500)
    expect(bob.messages("sent while offline")).to_have_count(0)
    alice.context.set_offline(False)
    alice.expect_connected()
    expect(bob.messages("sent while offline")).to_have_count(1)
    expect(alice.page.locator(".message.pending")).to_have_count(0)
    expect(alice.messages("sent while offline")).to_have_count(1)

    # Bob loses the network; Alice sends; Bob comes back and sees everything, once.
    bob.context.set_offline(True)
    expect(bob.page.locator("#connection")).not_to_have_attribute("data-state", "open")
    alice.send("while bob was away 1")
    alice.send("while bob was away 2")
    expect(alice.mine("while bob was away 2").locator(".tick")).to_have_attribute("data-state", "sent")
    bob.context.set_offline(False)
    bob.expect_connected()
    expect(bob.messages("while bob was away 1")).to_have_count(1)
    expect(bob.messages("while bob was away 2")).to_have_count(1)
    expect(alice.mine("while bob was away 2").locator(".tick")).to_have_attribute("data-state", "read")

    # The store has each message once: a fresh load of the history agrees.
    for u in (alice, bob):
        u.page.reload()
        u.expect_connected()
        u.open(bob.name if u is alice else alice.name)
        for text in ("before", "sent while offline", "while bob was away 1", "while bob was away 2"):
            expect(u.messages(text)).to_have_count(1)


def test_a_group_of_three_and_a_channel_anyone_can_join(people):
    alice, bob, carol = people("alice"), people("bob"), people("carol")
    alice.page.get_by_text("New group or channel").click()
    alice.page.get_by_label("Name", exact=True).fill("Trio")
    alice.page.get_by_label("Members (usernames, comma separated)").fill(f"{bob.name}, {carol.name}")
    alice.page.get_by_role("button", name="Create").click()
    expect(alice.page.locator("#conv-title")).to_have_text("Trio")
    alice.send("hello both")
    for u in (bob, carol):
        expect(u.page.locator("#conversation-list button", has_text="Trio")).to_contain_text("hello both")
    carol.open("Trio")
    carol.send("hi from carol")
    expect(alice.messages("hi from carol")).to_have_count(1)
    expect(alice.message("hi from carol").locator(".sender")).to_have_text(carol.name)

    # A public channel: Bob finds it and joins.
    channel = f"news-{uuid.uuid4().hex[:6]}"
    alice.page.get_by_label("Name", exact=True).fill(channel)
    alice.page.get_by_label("Kind").select_option("channel")
    alice.page.get_by_role("button", name="Create").click()
    expect(alice.page.locator("#conv-title")).to_have_text(channel)
    alice.send("welcome")
    bob.page.get_by_text("Discover channels").click()
    bob.page.get_by_role("button", name=f"Join {channel}").click()
    expect(bob.page.locator("#conv-title")).to_have_text(channel)
    expect(bob.messages("welcome")).to_have_count(1)


def test_history_scrolls_back_and_logout_returns_to_the_login(people, browser):
    alice, bob = people("alice"), people("bob")
    alice.start_with(bob)
    token = alice.page.evaluate("JSON.parse(sessionStorage.getItem('chat.session')).token")
    conv = alice.page.evaluate(
        """async ([token, peer]) => {
            const h = {authorization: `Bearer ${token}`, "content-type": "application/json"};
            for (let i = 1; i <= 45; i++) {
              await fetch("/api/messages", {method: "POST", headers: h,
                body: JSON.stringify({receiverId: peer, content: `old ${i}`})});
            }
        }""",
        [token, bob.name],
    )
    del conv
    bob.page.reload()  # a fresh page: only the newest page of history is loaded
    bob.expect_connected()
    bob.open(alice.name)
    expect(bob.messages("old 45")).to_have_count(1)
    expect(bob.messages("old 1")).to_have_count(0)
    bob.page.get_by_role("button", name="Load older messages").click()
    expect(bob.messages("old 1")).to_have_count(1)
    expect(bob.page.locator("#message-list .message")).to_have_count(45)

    bob.page.get_by_role("button", name="Log out").click()
    expect(bob.page.locator("#login-view")).to_be_visible()
    assert bob.page.evaluate("sessionStorage.getItem('chat.session')") is None
