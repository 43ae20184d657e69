"""On a phone (Chromium, 390×844), a checked-in attendee's ticket page is a guide to the venue:
"you are checked in", the floor plan that opens full size, the halls with their rooms and
booths, the agenda, answers to common questions and a number to call, and the ticket's QR code
one tap away for session rooms and booths. No console error, no request outside the app."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import expect

from eventapp.checkin import onsite
from eventapp.core.time import utcnow
from eventapp.events.cover_images import prepare_cover
from eventapp.events.models import Event
from eventapp.extensions import db
from tests.browser.conftest import LOCALES, Browsing, Expo
from tests.browser.pages import expect_language, expect_tidy, expect_touch_targets, expect_words
from tests.events.test_cover_image import picture
from tests.factories import Factory

pytestmark = [pytest.mark.browser, pytest.mark.single_db]

HELP = {"faq": [{"q": "衣帽间在哪里？ Where is the cloakroom?", "a": "北门入口内侧。Inside the north entrance."},
                {"q": "Wi-Fi?", "a": "Expo-Guest / smart2026"}],
        "contact": "北门服务台 · Service desk", "phone": "+86 21 6888 2026"}
TAPS = ".onsite__jump a, .onsite__qr summary, .onsite__faq summary, .button, .lang-switch button"


@pytest.fixture
def guest(app: Flask, make: Factory, expo: Expo) -> str:
    """A checked-in attendee's ticket page address, on a venue with a plan, rooms and booths."""
    event = expo.event
    for name, kind, hall, where in (
            ("主论坛 Main stage", "session", "蓝厅 Blue Hall", "一层 · ground floor"),
            ("Room 201", "session", "红厅 Red Hall", "二层 · 2nd floor"),
            ("A12 柔性产线 Flexible lines", "booth", "蓝厅 Blue Hall", "A12"),
            ("C21 数字孪生 Digital twins", "booth", "红厅 Red Hall", "C21")):
        make.point(event, name=name, kind=kind, hall=hall, location=where)
    with app.test_request_context(method="POST"):
        stored = db.session.get(Event, event.id)
        onsite.set_floor_plan(stored, prepare_cover(io.BytesIO(picture("PNG", (1200, 800))),
                                                    5_000_000))
        stored.venue_help = HELP
        stored.agenda = [{"time": "09:30", "title": "开幕 Opening", "speaker": "王建国"}]
        db.session.commit()
    registration = make.registration(event, make.contact(name="欧阳娜娜"),
                                     checked_in_at=utcnow() - timedelta(minutes=25))
    return f"/t/{registration.ticket_token}"


@pytest.mark.parametrize("locale", LOCALES)
def test_a_checked_in_attendee_finds_their_way_on_a_phone(browse: Browsing, guest: str,
                                                          locale: str):
    page = browse.open("phone", locale)
    page.goto(guest)
    expect_language(page, locale)

    expect_words(page.locator(".onsite__title"), locale, "You are checked in")
    expect(page.locator(".onsite__name")).to_have_text("欧阳娜娜")
    plan = page.locator(".onsite__plan img")
    expect(plan).to_be_visible()
    assert plan.evaluate("img => img.complete && img.naturalWidth") > 0
    venue = page.locator("#venue")
    for shown in ("蓝厅 Blue Hall", "主论坛 Main stage", "A12", "红厅 Red Hall", "Room 201"):
        expect(venue).to_contain_text(shown)
    expect(page.locator("#agenda")).to_contain_text("开幕 Opening")
    expect(page.locator("#booths")).to_contain_text("C21 数字孪生 Digital twins")

    # The jump links take a thumb to the help; a question opens to its answer.
    page.locator(".onsite__jump a[href='#help']").click()
    question = page.locator(".onsite__faq summary").first
    expect(question).to_be_in_viewport()
    answer = page.locator(".onsite__faq").first.locator("p")
    expect(answer).to_be_hidden()
    question.click()
    expect(answer).to_have_text("北门入口内侧。Inside the north entrance.")
    expect(page.locator("#help a[href='tel:+862168882026']")).to_be_visible()

    # The QR code waits, closed, until a room or booth asks for it.
    qr = page.locator("#ticket-qr img")
    expect(qr).to_be_hidden()
    page.locator("#ticket-qr summary").click()
    expect(qr).to_be_visible()
    page.wait_for_function("() => document.querySelector('#ticket-qr img').naturalWidth > 0")

    expect_tidy(page, "phone")
    expect_touch_targets(page, TAPS)
    browse.screenshot(page, f"onsite-{locale}")
    # A tap on the plan opens it full size, to zoom into.
    assert page.locator(".onsite__plan").get_attribute("href") == plan.get_attribute("src")
