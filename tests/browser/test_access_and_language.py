"""A page a role may not open says so plainly; the language switch changes the language and
keeps it, on the next page and on the next device."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LOCALES, Browsing, Expo
from tests.browser.pages import (HOME_URL, chinese_text_expected, expect_language, expect_tidy,
                                 expect_touch_targets, expect_words, log_in)
from tests.factories import Factory

pytestmark = [pytest.mark.browser, pytest.mark.single_db]

#: The lang attribute of each language's button in the switch.
SWITCH_LANG = {"zh-CN": "zh-Hans", "en-US": "en"}


@pytest.mark.parametrize("locale", LOCALES)
def test_staff_typing_the_overview_address_sees_no_access(browse: Browsing, expo: Expo,
                                                          locale: str) -> None:
    browse.expect_status(403)
    page = browse.open("tablet", locale)
    log_in(page, expo.staff.email, Factory.PASSWORD)

    response = page.goto(f"/events/{expo.event.slug}/")
    assert response is not None and response.status == 403
    expect_language(page, locale)
    expect(page.locator(".error-card__status")).to_have_text("403")
    expect_words(page.locator("h1"), locale, "No access")
    expect_tidy(page, "tablet")
    expect_touch_targets(page, ".error-card .button, .lang-switch button")
    browse.screenshot(page, f"403-staff-tablet-{locale}")

    page.locator(".error-card .button").click()  # the way out: back to my events
    page.wait_for_url(HOME_URL)
    expect(page.locator(".event-card h2")).to_have_text(expo.event.title)


def switch_language(page: Page, locale: str) -> None:
    """Press the header's button of the language of `locale` (zh-CN or en-US)."""
    button = page.locator(f".lang-switch button[lang={SWITCH_LANG[locale]}]")
    with page.expect_response(re.compile(r"/locale$")):
        button.click()
    page.wait_for_load_state()
    expect_language(page, locale)


def test_language_switch_changes_the_language_and_keeps_it(browse: Browsing,
                                                           expo: Expo) -> None:
    page = browse.open("desktop", "en-US")
    log_in(page, expo.marketer.email, Factory.PASSWORD)
    expect_language(page, "en-US")
    expect(page.locator("h1")).to_have_text("My events")

    switch_language(page, "zh-CN")
    expect(page).to_have_url(HOME_URL)  # the same page, now in Chinese
    expect_language(page, "zh-CN")
    if chinese_text_expected():
        expect(page.locator("h1")).not_to_have_text("My events")
    browse.screenshot(page, "switched-to-chinese-home")

    page.locator(".event-card footer .button").click()  # the next page stays Chinese
    page.wait_for_url(re.compile(rf"/events/{expo.event.slug}/$"))
    expect_language(page, "zh-CN")
    expect_words(page.locator(".section-head h2"), "zh-CN", "Channels")

    other_device = browse.open("tablet", "en-US")  # the choice is kept on the account
    log_in(other_device, expo.marketer.email, Factory.PASSWORD)
    expect_language(other_device, "zh-CN")

    switch_language(page, "en-US")
    expect(page).to_have_url(re.compile(rf"/events/{expo.event.slug}/$"))
    expect(page.locator(".section-head h2")).to_have_text("Channels")
    page.locator(".event-nav a[href$='/team']").click()
    page.wait_for_url(re.compile(r"/team$"))
    expect_language(page, "en-US")
    expect(page.locator("h1")).to_have_text("Team")


@pytest.mark.parametrize("locale", [
    "zh-CN",
    "en-US"])
def test_language_switch_shows_the_current_language(browse: Browsing, locale: str) -> None:
    page = browse.open("desktop", locale)
    page.goto("/login")
    expect_language(page, locale)
    marked = page.locator(".lang-switch button[aria-current=true].is-current")
    assert [b.get_attribute("lang") for b in marked.all()] == [SWITCH_LANG[locale]]


def test_language_switch_works_before_logging_in(browse: Browsing) -> None:
    """Attendees have no account: the choice is kept in their browser's session."""
    page = browse.open("phone", "zh-CN")
    page.goto("/login")
    expect_language(page, "zh-CN")
    switch_language(page, "en-US")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("button[type=submit].button--primary")).to_have_text("Log in")
    page.reload()
    expect_language(page, "en-US")
