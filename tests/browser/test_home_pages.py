"""Each role logs in through the real form on the screen it works on, in Chinese and in English,
lands on "My events" and opens its own page of the event."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect

from eventapp.demo import DEMO_PASSWORD, seed_demo
from eventapp.events.models import Event
from eventapp.extensions import db
from tests.browser.conftest import LOCALES, Browsing, Expo
from tests.browser.pages import (CJK, expect_language, expect_tidy, expect_touch_targets,
                                 expect_words, lines_of, log_in)
from tests.factories import Factory

pytestmark = [pytest.mark.browser, pytest.mark.single_db]

#: Each role on the screen it works on: marketing at a desk, staff at the gate with a tablet,
#: sales at a desk and on the road.
ROLE_SCREENS = [("marketer", "desktop"), ("staff", "tablet"), ("sales", "desktop"),
                ("sales", "phone")]
ROLE_LABELS = {"marketer": "Marketer", "staff": "Booth staff", "sales": "Sales"}
#: What a finger has to hit on a tablet: buttons, tabs and everything in the header.
MAIN_ACTIONS = (".button, main form button[type=submit], .event-nav a, .staffbar__back, "
                ".brand, .lang-switch button, .topbar__user, .link-button")


def card_figures(expo: Expo, role: str) -> list[str | re.Pattern[str]]:
    """The figures on the role's event card, in order."""
    if role == "staff":
        return [str(expo.confirmed), str(expo.checked_in), str(expo.waitlisted)]
    registered = str(expo.confirmed + expo.waitlisted)
    if role == "sales":
        return [registered, str(expo.checked_in), str(expo.cancelled)]
    # marketers: visitors, confirmed (against the capacity), checked in, spend
    return ["0", str(expo.confirmed), str(expo.checked_in), re.compile(re.escape(expo.spend))]


def expect_home(page: Page, expo: Expo, role: str, locale: str) -> None:
    expect_language(page, locale)
    expect_words(page.locator("h1"), locale, "My events")
    card = page.locator(".event-card")
    expect(card).to_have_count(1)
    expect(card.locator("h2")).to_have_text(expo.event.title)
    expect_words(card.locator(".badge--role"), locale, ROLE_LABELS[role])
    expect(card.locator(".stat__value")).to_have_text(card_figures(expo, role))
    expect(page.locator(".topbar__user")).to_have_text(getattr(expo, role).name)


def expect_overview(page: Page, expo: Expo, locale: str) -> None:
    page.wait_for_url(re.compile(rf"/events/{expo.event.slug}/$"))
    expect(page.locator("h1")).to_have_text(expo.event.title)
    expect_words(page.locator(".section-head h2"), locale, "Channels")
    rows = page.locator(".table tbody tr:not(.channel-links)")
    expect(rows).to_have_count(len(expo.channels) + 1)  # and the row of direct registrations
    # channel, registered, checked in: the waiting list counts, cancellations do not
    for name, registered, checked_in in [("WeChat article", "3", "2"),
                                         ("Partner mailing", "2", "1"), ("海报 Hall B", "0", "0")]:
        row = rows.filter(has_text=name)
        expect(row.locator("td").nth(3)).to_have_text(registered)
        expect(row.locator("td").nth(5)).to_have_text(checked_in)
    expect(page.locator(".stats--wide .stat__value").nth(3)).to_have_text(str(expo.checked_in))


def expect_gate(page: Page, expo: Expo, locale: str) -> None:
    """The gate tablet's page (tests/browser/test_checkin_gate.py scans on it): this event has
    no check-in points yet, so it asks for one and says whom to ask."""
    page.wait_for_url(re.compile(rf"/events/{expo.event.slug}/checkin$"))
    expect(page.locator(".staffbar__title strong")).to_have_text(expo.event.title)
    expect_words(page.locator("#gate-points-title"), locale, "check-in point")
    expect_words(page.locator(".gate-points .notice"), locale, "marketer")
    expect(page.locator("[data-gate-main]")).to_be_hidden()


def expect_people(page: Page, expo: Expo, locale: str) -> None:
    page.wait_for_url(re.compile(rf"/events/{expo.event.slug}/people$"))
    expect_words(page.locator("h1"), locale, "People")
    expect(page.locator("h1 .muted")).to_have_text("8")
    expect(page.locator(".table tbody tr")).to_have_count(8)
    for name in page.locator(".table tbody td:first-child").all():  # 王小明, never 王小 / 明
        if CJK.search(name.inner_text()):
            assert lines_of(name) == 1, f"{name.inner_text()!r} is broken over lines"
    search = page.locator("input[name=q]")
    search.fill("王小明")
    search.press("Enter")
    page.wait_for_url(re.compile(r"/people\?q=%E7%8E%8B%E5%B0%8F%E6%98%8E"))
    expect(page.locator("input[name=q]")).to_have_value("王小明")
    expect(page.locator(".table tbody tr")).to_have_count(1)
    expect(page.locator(".table tbody tr td").first).to_have_text("王小明")


ROLE_PAGES = {"marketer": expect_overview, "staff": expect_gate, "sales": expect_people}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("role", "device"), ROLE_SCREENS)
def test_role_logs_in_and_opens_its_page(browse: Browsing, expo: Expo, role: str, device: str,
                                         locale: str) -> None:
    page = browse.open(device, locale)
    log_in(page, getattr(expo, role).email, Factory.PASSWORD)

    expect_home(page, expo, role, locale)
    expect_tidy(page, device)
    if device == "tablet":
        expect_touch_targets(page, MAIN_ACTIONS)
    browse.screenshot(page, f"home-{role}-{device}-{locale}")

    page.locator(".event-card footer .button").click()
    ROLE_PAGES[role](page, expo, locale)
    expect_tidy(page, device)
    if device == "tablet":
        expect_touch_targets(page, MAIN_ACTIONS)
    browse.screenshot(page, f"event-{role}-{device}-{locale}")


@pytest.mark.parametrize("locale", LOCALES)
def test_demo_accounts_see_their_home_pages(app: Flask, browse: Browsing, locale: str) -> None:
    """The acceptance of the issue, literally: the seeded demo marketer, staff and sales."""
    with app.app_context():
        seed_demo(contacts=120)
        title = db.session.scalar(sa.select(Event.title))
    for role, device in (("marketer", "desktop"), ("staff", "tablet"), ("sales", "phone")):
        page = browse.open(device, locale)
        log_in(page, f"{role}@example.com", DEMO_PASSWORD)
        expect_language(page, locale)
        expect_words(page.locator("h1"), locale, "My events")
        card = page.locator(".event-card")
        expect(card.locator("h2")).to_have_text(title)
        expect_words(card.locator(".badge--role"), locale, ROLE_LABELS[role])
        expect(card.locator(".stat__value").first).to_have_text(re.compile(r"^[1-9][\d,]*$"))
        expect_tidy(page, device)
        browse.screenshot(page, f"demo-{role}-{device}-{locale}")
