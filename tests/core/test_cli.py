"""The `eventapp` commands: accounts, tokens, the demo, and an SMTP check through a real server."""

from __future__ import annotations

import re
import time

import phonenumbers
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from eventapp.auth.models import User
from eventapp.checkin.models import Scan, ScanResult
from eventapp.contacts.models import Contact
from eventapp.core.activity import Activity, ActivityKind
from eventapp.core.outbox import OutboxMessage
from eventapp.demo import DEMO_PASSWORD, EVENT_SLUG
from eventapp.events.booking_form import BookingFormSpec
from eventapp.events.models import Event, Membership, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.tickets import verify_ticket
from eventapp.testing.services import free_port


def test_create_admin_makes_an_admin_who_can_log_in(app, client):
    result = app.test_cli_runner().invoke(
        args=["create-admin", "Boss@Example.com", "--name", "老板", "--password", "a long passphrase"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "boss@example.com"))
        assert user.is_admin and user.name == "老板"
    client.login("boss@example.com", "a long passphrase")


def test_create_admin_explains_what_is_wrong(app, make):
    make.user(email="taken@example.com")
    runner = app.test_cli_runner()
    taken = runner.invoke(args=["create-admin", "taken@example.com", "--password", "x" * 12])
    assert taken.exit_code != 0 and "already exists" in taken.output
    short = runner.invoke(args=["create-admin", "new@example.com", "--password", "short"])
    assert short.exit_code != 0 and "10 to 256 characters" in short.output


def test_create_token_prints_a_working_token(app, make, client):
    user = make.user(email="crm@example.com")
    result = app.test_cli_runner().invoke(args=["create-token", "crm@example.com"])
    assert result.exit_code == 0
    token = result.output.strip()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json["id"] == user.id


def test_seed_demo_builds_a_believable_event_once(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo", "--contacts", "150", "--if-empty"])
    assert first.exit_code == 0, first.output
    assert "marketer@example.com" in first.output and DEMO_PASSWORD in first.output
    shown = re.findall(r"^  .+: ([A-Z2-7]{124})$", first.output, re.M)
    assert len(shown) == 3, "tickets to try at the gate"
    with app.app_context():
        event = db.session.scalar(sa.select(Event).where(Event.slug == EVENT_SLUG))
        roles = set(db.session.scalars(sa.select(Membership.role)))
        contacts = db.session.scalars(sa.select(Contact)).all()
        registrations = db.session.scalars(sa.select(Registration)).all()
        activities = db.session.scalar(sa.select(sa.func.count()).select_from(Activity))
    assert {r.value for r in roles} == {"marketer", "staff", "supervisor", "sales"}
    assert len(contacts) == 150
    assert any(re.search(r"[\u4e00-\u9fff]", c.name) for c in contacts)
    assert any(re.fullmatch(r"[A-Za-z .'-]+", c.name) for c in contacts)
    for contact in contacts:
        if contact.phone:
            assert phonenumbers.is_valid_number(phonenumbers.parse(contact.phone))
        if contact.email:  # never a real person's address
            assert contact.email.rsplit("@", 1)[1] in {"example.com", "example.net", "example.org"}
    assert registrations and event.starts_at < time_now()
    for registration in registrations:
        if registration.checked_in_at:
            assert registration.status == RegistrationStatus.CONFIRMED
    assert activities > len(registrations)
    # Tickets are genuine, the page has content, and the messages of a real event are there.
    for registration in registrations:
        assert verify_ticket(registration.ticket_code, event.id, event.ticket_public_key)
    assert event.agenda and event.cover_image and event.gift
    assert not BookingFormSpec.from_json(event.booking_form).problems()
    with app.app_context():
        kinds = dict(db.session.execute(sa.select(OutboxMessage.kind, sa.func.count())
                                        .group_by(OutboxMessage.kind)).all())
    assert {"ticket", "reminder", "invitation"} <= set(kinds)
    # The gate: each arrival and gift is its scan, and the activity names it.
    with app.app_context():
        venue = dict(db.session.execute(
            sa.select(Scan.scope, sa.func.count()).where(Scan.result == ScanResult.VALID,
                                                         Scan.scope.in_(("venue", "gift")))
            .group_by(Scan.scope)).all())
        arrivals = sum(1 for r in registrations if r.checked_in_at)
        gifts = sum(1 for r in registrations if r.gift_given_at)
        results = set(db.session.scalars(sa.select(Scan.result).distinct()))
        unnamed = db.session.scalar(sa.select(sa.func.count()).select_from(Activity).where(
            Activity.kind.in_((ActivityKind.CHECKIN, ActivityKind.GIFT)),
            sa.not_(Activity.reference.startswith("scan:"))))
    assert venue == {"venue": arrivals, "gift": gifts} and arrivals and gifts
    assert {ScanResult.ALREADY_USED, ScanResult.FORGED, ScanResult.REENTRY} <= results
    assert unnamed == 0
    arrived = {r.ticket_code for r in registrations if r.checked_in_at}
    assert not arrived & set(shown), "the tickets to try are of guests still to come"

    again = runner.invoke(args=["seed-demo", "--if-empty"])
    assert again.exit_code == 0 and "left as it is" in again.output
    assert "marketer@example.com" in again.output, "the logins are shown every time"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 150

    refused = runner.invoke(args=["seed-demo"])
    assert refused.exit_code != 0 and "already has events" in refused.output


def time_now():
    from eventapp.core.time import utcnow
    return utcnow()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.mark.single_db
def test_send_test_email_goes_through_a_real_smtp_server(app, smtp_server):
    controller, inbox = smtp_server
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port,
                      MAIL_FROM="eventapp <noreply@example.com>")
    result = app.test_cli_runner().invoke(args=["send-test-email", "marketer@example.com"])
    assert result.exit_code == 0, result.output
    deadline = time.monotonic() + 5
    while not inbox.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    sender, recipients, content = inbox.messages[0]
    assert sender == "noreply@example.com" and recipients == ["marketer@example.com"]
    assert b"Subject: eventapp test e-mail" in content


@pytest.mark.single_db
def test_send_test_email_says_why_it_failed(app):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), SMTP_TIMEOUT=2)
    result = app.test_cli_runner().invoke(args=["send-test-email", "x@example.com"])
    assert result.exit_code != 0
    assert "Sending failed" in result.output and "refused" in result.output.lower()
