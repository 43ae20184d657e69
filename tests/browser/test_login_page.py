"""The login page on every screen, and the watch that every browser test relies on."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEVICES, LOCALES, Browsing, LiveServer
from tests.browser.pages import expect_language, expect_tidy, expect_touch_targets, expect_words

pytestmark = [pytest.mark.browser, pytest.mark.single_db]

LOGIN_BUTTON = "form:has(input[name=password]) button[type=submit]"


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("device", list(DEVICES))
def test_login_page_fits_the_screen(browse: Browsing, device: str, locale: str) -> None:
    page = browse.open(device, locale)
    page.goto("/login")
    expect_language(page, locale)
    expect_words(page.locator("label[for=email]"), locale, "E-mail")
    expect_words(page.locator(LOGIN_BUTTON), locale, "Log in")
    expect(page.locator("input[name=email]")).to_be_focused()
    expect_tidy(page, device)
    if device != "desktop":
        expect_touch_targets(page, f"{LOGIN_BUTTON}, .field input:not([type=checkbox]), "
                                   ".lang-switch button")
    browse.screenshot(page, f"login-{device}-{locale}")


def wait_for_problems(page: Page, browse: Browsing, *fragments: str) -> list[str]:
    """The watch's notes, once one contains each fragment (they arrive asynchronously)."""
    for _ in range(100):
        if all(any(f in p for p in browse.problems) for f in fragments):
            break
        page.wait_for_timeout(20)
    return list(browse.problems)


def test_the_watch_sees_what_would_break_a_page(app: Flask, browse: Browsing,
                                                live_server: LiveServer) -> None:
    """Inline code refused by the CSP, script errors, error statuses and exceptions in the app
    are all noticed; otherwise the other browser tests could pass on a broken page."""
    app.add_url_rule("/_broken", "broken", lambda: 1 / 0)
    page = browse.open()
    page.goto("/login")
    page.evaluate("""() => {
      document.body.insertAdjacentHTML('beforeend', '<p style="color: red">inline style</p>');
      const script = document.createElement('script');
      script.textContent = 'window.inlineScriptRan = true';
      document.body.append(script);
      setTimeout(() => { throw new Error('boom from a script'); }, 0);
    }""")
    problems = wait_for_problems(page, browse, "CSP violation: style-src",
                                 "CSP violation: script-src", "Content Security Policy",
                                 "script error: boom from a script")
    assert page.evaluate("window.inlineScriptRan") is None
    assert any(p.startswith("CSP violation: style-src") for p in problems), problems
    assert any(p.startswith("CSP violation: script-src") for p in problems), problems
    assert any("Content Security Policy" in p and p.startswith("console") for p in problems)
    assert any("boom from a script" in p for p in problems), problems

    page.goto("/no-such-page")
    page.goto("/_broken")
    problems = wait_for_problems(page, browse, "HTTP 404", "HTTP 500")
    assert any(p.startswith("HTTP 404 from GET") for p in problems), problems
    assert any(p.startswith("HTTP 500 from GET") for p in problems), problems
    assert [type(e) for e in live_server.exceptions] == [ZeroDivisionError]

    browse.forget_problems()  # all provoked on purpose
    live_server.exceptions.clear()
