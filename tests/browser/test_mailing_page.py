"""A marketer invites part of the pool from the invitations page, in a real browser: the count
follows the filters, sending fills the progress bar, and the mailing is listed."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import expect

from eventapp.core.outbox import OutboxMessage
from eventapp.core.time import utcnow
from eventapp.extensions import db
from eventapp.invites.models import Mailing
from tests.browser.pages import expect_tidy, log_in
from tests.factories import Factory

pytestmark = [pytest.mark.browser, pytest.mark.single_db]


@pytest.fixture
def invitation_pool(make: Factory) -> dict[str, object]:
    event = make.event(title="2026 智能制造峰会 Smart Factory Summit")
    marketer = make.user(name="周敏")
    make.membership(event, marketer, "marketer")
    make.channel(event, name="Spring EDM", kind="email", code="spring-edm")
    for n in range(3):
        make.contact(name=f"上海客户 {n}", city="Shanghai", sources=["import:expo-list.xlsx"])
    for n in range(2):
        make.contact(name=f"Beijing buyer {n}", city="Beijing")
    make.contact(name="Opted out", city="Shanghai", opted_out_at=utcnow() - timedelta(days=2))
    return {"event": event, "marketer": marketer}


def test_a_marketer_counts_a_segment_sends_and_sees_it_done(app: Flask, browse,
                                                             invitation_pool):
    event, marketer = invitation_pool["event"], invitation_pool["marketer"]
    page = browse.open("desktop", "en-US")
    log_in(page, marketer.email, Factory.PASSWORD)
    page.get_by_role("link", name=re.compile("Summit")).first.click()
    page.locator(".event-nav").get_by_role("link", name="Invitations").click()
    expect(page).to_have_url(re.compile(rf"/events/{event.slug}/invitations$"))

    count = page.locator(".segment-count")
    expect(count).to_have_text("5 people will receive it; 1 excluded "
                               "(1 opted out, 0 without an e-mail address)")
    page.get_by_label("City").fill("Shanghai")
    expect(count).to_have_text("3 people will receive it; 1 excluded "
                               "(1 opted out, 0 without an e-mail address)")
    page.get_by_label("Came to the pool through").select_option("import:expo-list.xlsx")
    send = page.locator(".send-form__button")
    expect(send).to_have_text("Send to 3 people")
    expect_tidy(page, "desktop")

    page.get_by_label("Your note").fill("The first 300 to book get a thermos.")
    page.once("dialog", lambda dialog: dialog.accept())
    send.click()

    expect(page.locator(".flash--success")).to_contain_text("being queued")
    bar = page.locator(".mailing-row .progress")
    expect(bar).to_have_attribute("data-state", "succeeded", timeout=10_000)
    assert page.evaluate("document.querySelector('.mailing-row progress').value") == 100
    expect(page.locator(".mailing-row .progress__text")).to_have_text("3 invitations queued")
    row = page.locator(".mailing-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Spring EDM")
    expect(row).to_contain_text("City: Shanghai · Source: import:expo-list.xlsx")
    expect(row).to_contain_text("The first 300 to book get a thermos.")
    # The filters stay as sent, ready for the next mailing.
    expect(page.get_by_label("City")).to_have_value("Shanghai")
    expect_tidy(page, "desktop")
    browse.screenshot(page, "invitations")

    with app.app_context():
        mailing = db.session.scalar(sa.select(Mailing))
        queued = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                                   .where(OutboxMessage.kind == "invitation"))
    assert (mailing.queued, mailing.skipped, queued) == (3, 0, 3)


def test_a_recipient_unsubscribes_on_their_phone(app: Flask, browse, make: Factory):
    from eventapp.contacts.models import Contact
    from eventapp.invites.unsubscribe import unsubscribe_token

    contact = make.contact(name="王小明")
    with app.app_context():
        token = unsubscribe_token(contact.id)
    page = browse.open("phone", "en-US")
    page.goto(f"/u/{token}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Stop receiving invitations?")
    expect_tidy(page, "phone")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    expect_tidy(page, "phone")
    with app.app_context():
        assert db.session.get(Contact, contact.id).opted_out_at is not None
