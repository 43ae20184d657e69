"""Marketing watches arrivals live in a real browser, at a desk and on a tablet, in both
languages: a ticket scanned at the gate meanwhile (through the redemption API) shows on the
dashboard within one refresh, without reloading the page; no script or CSP error, nothing
sticking out of the screen."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from babel import Locale
from babel.dates import format_time
from flask import Flask
from playwright.sync_api import expect

from eventapp.checkin.dashboard_views import REFRESH_SECONDS
from tests.browser.conftest import Browsing, Expo
from tests.browser.pages import expect_language, expect_tidy, expect_words, log_in
from tests.conftest import Client
from tests.factories import Factory

pytestmark = [pytest.mark.browser, pytest.mark.single_db]

#: One refresh, and the moment the answer takes to arrive and be drawn.
ONE_REFRESH_MS = (REFRESH_SECONDS + 3) * 1000


def scan_at_the_gate(app: Flask, expo: Expo, point, code: str) -> dict:
    """A steward's tablet scanning a ticket, as it calls the API (not through the page)."""
    app.test_client_class = Client
    tablet = app.test_client()
    tablet.login(expo.staff.email, Factory.PASSWORD)
    response = tablet.post(f"/api/v1/events/{expo.event.slug}/checkin/redemptions", json={
        "code": code, "point_id": point.id, "device_id": "tablet-north",
        "client_scan_id": str(uuid.uuid4())}, headers={"X-CSRFToken": tablet.csrf_token()})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.parametrize("device", ["desktop", "tablet"])
@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_a_new_arrival_shows_within_one_refresh(app: Flask, make: Factory, expo: Expo,
                                                browse: Browsing, device: str,
                                                locale: str) -> None:
    gate = make.point(expo.event, name="北门 North gate", kind="entrance", hall="Hall A")
    newcomer = make.registration(expo.event, make.contact(name="Grace Hopper",
                                                          company="Navy Labs"))
    page = browse.open(device, locale)
    log_in(page, expo.marketer.email, Factory.PASSWORD)
    page.goto(f"/events/{expo.event.slug}/checkin/dashboard")

    expect_language(page, locale)
    expect_words(page.locator("h1"), locale, "Arrivals")
    expect(page.locator(".event-nav a[aria-current=page]")).to_have_count(1)
    arrivals = page.locator('[data-figure="arrivals"]')
    expect(arrivals).to_have_text(str(expo.checked_in))
    expect(page.locator('[data-figure="expected"]')).to_have_text(str(expo.confirmed + 1))
    gate_row = page.locator(f'[data-points] tr[data-key="{gate.id}"]')
    expect(gate_row.locator("td.num").first).to_have_text("0")
    expect(page.locator(".dash-scans")).not_to_contain_text("Grace Hopper")
    page.evaluate("window.__sameDocument = true")

    answer = scan_at_the_gate(app, expo, gate, newcomer.ticket_code)
    assert answer["result"] == "valid"

    expect(arrivals).to_have_text(str(expo.checked_in + 1), timeout=ONE_REFRESH_MS)
    expect(gate_row.locator("td.num").first).to_have_text("1")
    latest = page.locator(".dash-scan").first
    expect(latest).to_contain_text("Grace Hopper")
    expect(latest).to_contain_text("北门 North gate")
    expect(latest).to_have_class(re.compile(r"\bdash-scan--admitted\b"))
    expect_words(latest.locator(".dash-scan__result"), locale, "Valid")
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    # the chart's bar of the scan's 10 minutes (in the event's time) counts the arrival (it
    # started when the expo did). Waited for, not read once: the chart is redrawn after the
    # figures, and a scan just after a 10-minute mark is in a bar the next refresh adds (just
    # before one, the newest bar is already the next, empty one)
    scanned = datetime.fromisoformat(answer["scanned_at"]).astimezone(
        ZoneInfo(expo.event.timezone))
    label = format_time(scanned.replace(minute=scanned.minute // 10 * 10), "short",
                        locale=Locale.parse(locale, sep="-"))
    bar = page.locator("[data-chart-bars] title", has_text=re.compile(f"^{re.escape(label)}: "))
    expect(bar).to_have_text(f"{label}: 1", timeout=ONE_REFRESH_MS)
    expect(page.locator("[data-status]")).not_to_be_empty()

    expect_tidy(page, device)
    shot = browse.screenshot(page, f"dashboard-{device}-{locale}")
    print(f"screenshot: {shot}")


def test_the_page_says_when_its_figures_are_old_and_catches_up(
        app: Flask, make: Factory, expo: Expo, browse: Browsing) -> None:
    gate = make.point(expo.event, name="North gate", kind="entrance", hall="Hall A")
    newcomer = make.registration(expo.event)
    page = browse.open("desktop", "en-US")
    log_in(page, expo.marketer.email, Factory.PASSWORD)
    browse.expect_status(503)
    page.route("**/checkin/dashboard.json", lambda route: route.fulfill(
        status=503, content_type="application/json", body='{"error": {"status": 503}}'))
    page.goto(f"/events/{expo.event.slug}/checkin/dashboard")
    status = page.locator("[data-status]")
    loaded = status.text_content()
    loaded_time = loaded.removeprefix("Updated ")

    expect(status).to_have_text(f"Not updated since {loaded_time}: trying again…",
                                timeout=ONE_REFRESH_MS)
    expect(page.locator(".dashboard__status")).to_have_class(re.compile(r"\bis-stale\b"))
    scan_at_the_gate(app, expo, gate, newcomer.ticket_code)
    page.unroute("**/checkin/dashboard.json")

    expect(page.locator('[data-figure="arrivals"]')).to_have_text(
        str(expo.checked_in + 1), timeout=ONE_REFRESH_MS)
    expect(status).to_have_text(re.compile(r"^Updated "))
    expect(page.locator(".dashboard__status")).not_to_have_class(re.compile(r"\bis-stale\b"))
