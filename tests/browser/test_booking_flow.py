"""The acceptance of the invitations issue, on a phone (Chromium, 390×844): open a channel's
link, book through the form, land on the ticket, and read the QR code the page shows with a
real decoder (zbar): it gives a payload that verifies with the event's public key, while a
tampered payload, another event's ticket and a random string do not."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect

from eventapp.core.time import utcnow
from eventapp.events.models import Event, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.tickets import InvalidTicket, TicketProblem, verify_ticket
from tests.browser.conftest import LOCALES, Browsing, Expo, LiveServer
from tests.browser.pages import expect_language, expect_tidy, expect_touch_targets, expect_words
from tests.factories import Factory

pytestmark = [pytest.mark.browser, pytest.mark.single_db]

#: HTML, CSS and JS of the invitation page (the cover image apart), as the phone received them.
PAGE_WEIGHT_LIMIT = 40_000
TICKET_PAGE = re.compile(r"/t/[A-Za-z0-9_-]{24}$")
#: What a finger has to hit on the invitation.
TAP_TARGETS = (".booking-form .choice, .booking-form button[type=submit], .invite-cta, "
               ".lang-switch button, .facts__map")


def decode_qr(image: bytes, folder: Path) -> str:
    """What zbar, a real QR decoder, reads in the image."""
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        pytest.skip("zbarimg is not installed (apt-get install zbar-tools)")
    path = folder / "ticket-qr.png"
    path.write_bytes(image)
    result = subprocess.run([zbarimg, "--raw", "-q", str(path)], capture_output=True, text=True,
                            timeout=30, check=False)
    assert result.returncode == 0, f"zbar read nothing: {result.stderr}"
    return result.stdout.strip()


def page_weight(page: Page) -> int:
    """Bytes of the document and of its scripts and stylesheets, as the browser got them."""
    return page.evaluate("""() => {
      const doc = performance.getEntriesByType('navigation')[0].encodedBodySize;
      return doc + performance.getEntriesByType('resource')
        .filter((r) => ['script', 'link', 'css'].includes(r.initiatorType))
        .reduce((sum, r) => sum + r.encodedBodySize, 0);
    }""")


def describe(app: Flask, expo: Expo) -> None:
    """The set-up marketing gives the invitation: programme, venue, gift, form."""
    with app.app_context():
        event = db.session.get(Event, expo.event.id)
        event.description = "汇聚 60 家工业软件厂商。\n\nSixty exhibitors show factories at work."
        event.agenda = [{"time": "09:30", "title": "开幕致辞 Opening address", "speaker": "王建国"},
                        {"time": "10:00", "title": "Keynote: industrial AI", "speaker": ""}]
        event.map_url = "https://map.example.com/?q=expo"
        event.transport_notes = "地铁 2 号线 4 号口 · Metro line 2, exit 4"
        event.gift = "定制保温杯 · a thermos"
        event.booking_form = {
            "fields": {"name": "required", "phone": "required", "email": "optional",
                       "company": "optional", "job_title": "off", "city": "off"},
            "questions": [{"key": "topic", "kind": "single", "label": "最关心的议题 · Topic",
                           "options": ["工业 AI · Industrial AI", "数字孪生 · Digital twins"],
                           "required": True},
                          {"key": "lunch", "kind": "yes_no", "label": "午餐 · Lunch?",
                           "required": False}]}
        db.session.commit()


def fill_in_the_form(page: Page, phone: str) -> None:
    form = page.locator(".booking-form")
    form.locator("#field-name").fill("王小明")
    form.locator("#field-phone").fill(phone)
    form.locator("#field-email").fill(f"wang.{phone[-4:]}@example.com")
    form.locator("#field-company").fill("苏州精工 Suzhou Precision")
    form.locator(".choice", has_text="数字孪生").click()
    form.locator("input[name=q_lunch][value=yes]").check()
    form.locator("input[name=consent]").check()


@pytest.mark.parametrize("locale", LOCALES)
def test_a_phone_books_through_a_channel_link_and_its_qr_code_verifies(
        app: Flask, make: Factory, browse: Browsing, live_server: LiveServer, expo: Expo,
        tmp_path: Path, locale: str) -> None:
    describe(app, expo)
    channel = expo.channels["wechat"]
    other_ticket = make.registration(make.event(title="Another Expo")).ticket_code
    page = browse.open("phone", locale)

    page.goto(f"/e/{expo.event.slug}?c={channel.code}")

    expect_language(page, locale)
    expect(page.locator("h1")).to_have_text(expo.event.title)
    expect_words(page.locator("label[for=field-phone]"), locale, "Mobile")
    expect(page.locator(".agenda__item")).to_have_count(2)
    assert page_weight(page) < PAGE_WEIGHT_LIMIT
    expect_tidy(page, "phone")
    expect_touch_targets(page, TAP_TARGETS, min_height=44)
    browse.screenshot(page, f"invitation-{locale}")

    fill_in_the_form(page, phone="13912345678" if locale == "zh-CN" else "13987654321")
    page.locator(".booking-form button[type=submit]").click()

    page.wait_for_url(TICKET_PAGE)
    expect_words(page.locator(".ticket-card .badge"), locale, "Confirmed")
    expect(page.locator(".ticket-card__name")).to_have_text("王小明")
    qr = page.locator("img.ticket-card__qr")
    expect(qr).to_be_visible()
    assert qr.evaluate("(img) => img.complete && img.naturalWidth > 200")
    expect_tidy(page, "phone")
    browse.screenshot(page, f"ticket-{locale}")

    image = page.request.get(qr.get_attribute("src"))
    assert image.ok and image.headers["content-type"] == "image/png"
    payload = decode_qr(image.body(), tmp_path)
    with app.app_context():
        event = db.session.get(Event, expo.event.id)
        registration = db.session.scalar(sa.select(Registration).where(
            Registration.ticket_token == page.url.rsplit("/", 1)[1]))
        assert (registration.channel_id, registration.status) == (
            channel.id, RegistrationStatus.CONFIRMED)
        assert registration.answers == {"topic": "数字孪生 · Digital twins", "lunch": True}
        public_key, event_id = event.ticket_public_key, event.id
    claim = verify_ticket(payload, event_id, public_key)
    assert claim.serial == registration.ticket_serial and payload == registration.ticket_code
    tampered = payload[:50] + ("A" if payload[50] != "A" else "B") + payload[51:]
    for scanned, problem in ((tampered, TicketProblem.FORGED),
                             (other_ticket, TicketProblem.OTHER_EVENT),
                             (secrets.token_urlsafe(93)[:124], TicketProblem.MALFORMED)):
        with pytest.raises(InvalidTicket) as refused:
            verify_ticket(scanned, event_id, public_key)
        assert refused.value.problem == problem


def test_the_countdown_ticks_and_the_ticket_can_be_cancelled(
        app: Flask, make: Factory, browse: Browsing, live_server: LiveServer) -> None:
    event = make.event(title="2026 智能制造峰会", starts_at=utcnow() + timedelta(days=3, hours=5))
    page = browse.open("phone", "en-US")
    page.goto(f"/e/{event.slug}")

    expect(page.locator(".countdown__label")).to_have_text(re.compile(r"^\d days to go$"))
    seconds = page.locator('[data-part="seconds"]')
    first = seconds.inner_text()
    expect(seconds).not_to_have_text(first, timeout=3_000)  # the script keeps it ticking
    expect(page.locator('[data-part="days"]')).to_have_text("3")

    fill = page.locator(".booking-form")
    fill.locator("#field-name").fill("Emily Clark")
    fill.locator("#field-phone").fill("+44 7911 123456")
    fill.locator("input[name=consent]").check()
    fill.locator("button[type=submit]").click()
    page.wait_for_url(TICKET_PAGE)

    cancel = page.locator("form[data-confirm] button")
    page.once("dialog", lambda dialog: dialog.dismiss())
    cancel.click()
    expect(page.locator(".ticket-card .badge--confirmed")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    cancel.click()
    expect(page.locator(".ticket-card .badge--cancelled")).to_be_visible()
    expect(page.locator(".flash--success")).to_contain_text("Your booking is cancelled")
    expect_tidy(page, "phone")
    browse.screenshot(page, "ticket-cancelled")
