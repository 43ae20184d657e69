"""Browser tests: the real app on a loopback port, driven by Debian's headless Chromium through
Playwright, on the screens people use: an attendee's phone, a booth tablet, an office desktop.

    def test_something(browse, live_server):
        page = browse.open("tablet", "zh-CN")
        page.goto("/login")

Every page opened through `browse` is watched. A console error, an uncaught script error, a
Content-Security-Policy violation, a failed request or an error status from our own server, or
an exception inside the app fails the test at teardown, unless the test said it expects it
(`browse.expect_status(403)`). One Chromium serves the whole session; each page gets a fresh
context (cookies, language, screen), so tests cannot see each other's sessions.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, got_request_exception
from playwright.sync_api import (Browser, BrowserContext, ConsoleMessage, Page, Playwright,
                                 Request, Response, sync_playwright)
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import make_server

from eventapp.auth.models import User
from eventapp.core.time import utcnow
from eventapp.events.models import Channel, Event, RegistrationStatus
from tests.conftest import require
from tests.factories import Factory

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach Google, which fails
# noisily on a machine without network (and CI is one).
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

#: The screens of eventapp's three audiences.
DEVICES: dict[str, dict[str, Any]] = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "tablet": {"viewport": {"width": 768, "height": 1024}, "has_touch": True},
    "desktop": {"viewport": {"width": 1366, "height": 900}},
}
#: Browser languages; they reach the app as Accept-Language.
LOCALES = ("zh-CN", "en-US")

# Reports a CSP violation to Python. Init scripts and bindings run outside the page's CSP.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__eventappCspViolation(
    `${e.effectiveDirective} refused ${e.blockedURI || "inline code"} ` +
    `(${e.sourceFile || e.documentURI}:${e.lineNumber})`);
});
"""


# --- the app on a real port ---------------------------------------------------------------

@dataclass
class LiveServer:
    url: str
    exceptions: list[BaseException] = field(default_factory=list)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The test's app served on a free loopback port from a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    live = LiveServer(f"http://127.0.0.1:{server.server_port}")

    def record(_sender: Flask, exception: BaseException, **_extra: Any) -> None:
        live.exceptions.append(exception)

    got_request_exception.connect(record, app, weak=False)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="live-server", daemon=True)
    thread.start()
    try:
        yield live
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        got_request_exception.disconnect(record, app)
    if live.exceptions:
        pytest.fail("the app raised while serving the browser:\n"
                    + "\n".join(f"  {type(e).__name__}: {e}" for e in live.exceptions))


# --- one Chromium per session ---------------------------------------------------------------

@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        require("Chromium", FileNotFoundError(f"{CHROMIUM} is missing (apt-get install chromium)"))
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    except PlaywrightError as error:
        require("Chromium", error)
    yield browser
    browser.close()


# --- watched pages --------------------------------------------------------------------------

class Browsing:
    """Opens pages on a device and language, and notes everything that went wrong on them."""

    def __init__(self, browser: Browser, server: LiveServer, screenshots: Path) -> None:
        self.browser = browser
        self.server = server
        self.screenshots = screenshots
        self.contexts: list[BrowserContext] = []
        self.problems: list[str] = []
        self.expected: list[re.Pattern[str]] = []

    def open(self, device: str = "desktop", locale: str = "en-US") -> Page:
        """A new page in a fresh browser (no cookies) of this device and language."""
        context = self.browser.new_context(base_url=self.server.url, locale=locale,
                                           **DEVICES[device])
        context.set_default_timeout(10_000)
        context.expose_binding("__eventappCspViolation", self._on_csp_violation)
        context.add_init_script(CSP_LISTENER)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self._note(f"script error: {error}"))
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)
        return page

    def expect_status(self, status: int) -> None:
        """The test provokes this HTTP status: its response and Chromium's console line about it
        are not problems."""
        self.expected += [re.compile(rf"^HTTP {status} "),
                          re.compile(rf"^console error: Failed to load resource: the server "
                                     rf"responded with a status of {status}\b")]

    def screenshot(self, page: Page, name: str) -> Path:
        """The whole page as a PNG in the test's tmp_path (never in the repository)."""
        path = self.screenshots / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        return path

    def unexpected_problems(self) -> list[str]:
        return [p for p in self.problems if not any(rx.search(p) for rx in self.expected)]

    def forget_problems(self) -> None:
        self.problems.clear()

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()

    # --- listeners ---

    def _note(self, problem: str) -> None:
        self.problems.append(problem)

    def _ours(self, url: str) -> bool:
        """A request to our server that a page asked for (Chromium asks for /favicon.ico by
        itself on pages without an icon link, such as Werkzeug's bare 500 page)."""
        return ((url == self.server.url or url.startswith(self.server.url + "/"))
                and url != self.server.url + "/favicon.ico")

    def _on_console(self, message: ConsoleMessage) -> None:
        where = message.location.get("url", "")
        if where and where.startswith(self.server.url) and not self._ours(where):
            return
        if message.type == "error" or "Content Security Policy" in message.text:
            source = f" ({where})" if where else ""
            self._note(f"console {message.type}: {message.text}{source}")

    def _on_csp_violation(self, _source: dict[str, Any], text: str) -> None:
        self._note(f"CSP violation: {text}")

    def _on_request_failed(self, request: Request) -> None:
        # ERR_ABORTED is the browser dropping a request because the page moved on (the icon
        # still loading when a link is followed), not a failure of the server.
        if self._ours(request.url) and request.failure != "net::ERR_ABORTED":
            self._note(f"request failed: {request.method} {request.url}: {request.failure}")

    def _on_response(self, response: Response) -> None:
        if self._ours(response.url) and response.status >= 400:
            self._note(f"HTTP {response.status} from {response.request.method} {response.url}")


@pytest.fixture
def browse(chromium: Browser, live_server: LiveServer, tmp_path: Path) -> Iterator[Browsing]:
    screenshots = tmp_path / "screenshots"
    screenshots.mkdir()
    browsing = Browsing(chromium, live_server, screenshots)
    yield browsing
    browsing.close()
    problems = browsing.unexpected_problems()
    if problems:
        pytest.fail("the browser saw problems:\n" + "\n".join(f"  {p}" for p in problems))


# --- an event in progress, and its team ---------------------------------------------------

@dataclass
class Expo:
    """A published event that started two hours ago, with channels, people and its team."""

    event: Event
    marketer: User
    staff: User
    sales: User
    channels: dict[str, Channel]
    # The figures the pages must show for it.
    confirmed: int = 6
    waitlisted: int = 1
    cancelled: int = 1
    checked_in: int = 3
    spend: str = "3,500.00"
    arrivals: tuple[str, ...] = ("王小明", "李娜", "张伟")


@pytest.fixture
def expo(make: Factory) -> Expo:
    now = utcnow()
    event = make.event(title="2026 智能制造峰会 Smart Factory Summit",
                       starts_at=now - timedelta(hours=2), capacity=120)
    channels = {
        "wechat": make.channel(event, name="WeChat article", kind="wechat", spend="1000.00"),
        "partner": make.channel(event, name="Partner mailing", kind="email", spend="2500.00"),
        "poster": make.channel(event, name="海报 Hall B", kind="poster", spend="0.00"),
    }
    people = [  # name, channel, status, minutes since check-in
        ("王小明", "wechat", RegistrationStatus.CONFIRMED, 50),
        ("李娜", "wechat", RegistrationStatus.CONFIRMED, 30),
        ("Emily Clark", "wechat", RegistrationStatus.CONFIRMED, None),
        ("张伟", "partner", RegistrationStatus.CONFIRMED, 10),
        ("David Miller", "partner", RegistrationStatus.WAITLISTED, None),
        ("刘洋", None, RegistrationStatus.CONFIRMED, None),
        ("Oliver Smith", None, RegistrationStatus.CONFIRMED, None),
        ("陈静", None, RegistrationStatus.CANCELLED, None),
    ]
    for name, channel, status, minutes in people:
        make.registration(event, make.contact(name=name), status=status,
                          channel=channels[channel] if channel else None,
                          checked_in_at=now - timedelta(minutes=minutes) if minutes else None)
    team = {}
    for role, name in (("marketer", "周敏"), ("staff", "Tom Becker"), ("sales", "李思远")):
        team[role] = make.user(name=name)
        make.membership(event, team[role], role)
    return Expo(event=event, channels=channels, **team)
