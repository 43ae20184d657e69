"""Ticket messages as people receive them: booked through the booking service, sent through a
real SMTP server, the inline QR code read back with a real decoder (zbar)."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask

from eventapp.core.outbox import Medium, MessageStatus, OutboxMessage, send_due_messages
from eventapp.core.time import utcnow
from eventapp.events.models import Event, Registration
from eventapp.extensions import db
from eventapp.invites.booking import BookingRequest, book, cancel_registration
from eventapp.invites.links import read_message_ref
from eventapp.testing.services import free_port
from tests.support.mailbox import Mailbox, running_mailbox

#: 09:30 to 17:30 in Shanghai (UTC+8) on Sunday 12 May 2030.
STARTS = datetime(2030, 5, 12, 1, 30, tzinfo=timezone.utc)
TEXTS: list[tuple[str, str]] = []


def record_sms(phone: str, text: str) -> None:
    """SMS_BACKEND=tests.invites.test_ticket_messages:record_sms"""
    TEXTS.append((phone, text))


@pytest.fixture
def smtp_server(app: Flask):
    TEXTS.clear()
    with running_mailbox(Mailbox()) as mailbox:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=mailbox.port,
                          MAIL_FROM="Smart Factory Expo <tickets@example.com>",
                          PUBLIC_URL="https://events.example.com",
                          SMS_BACKEND="tests.invites.test_ticket_messages:record_sms")
        yield mailbox


def _event(app: Flask, make, title: str, *, starts_at: datetime = STARTS,
           capacity: int | None = 100, **details: str) -> Event:
    """A published event whose booking form asks for a mobile or an e-mail (either will do)."""
    event = make.event(starts_at=starts_at, capacity=capacity)
    with app.app_context():
        stored = db.session.get(Event, event.id)
        stored.title = title
        stored.booking_form = {"fields": {"name": "required", "phone": "optional",
                                          "email": "optional"}}
        for name, value in details.items():
            setattr(stored, name, value)
        db.session.commit()
        return stored


@pytest.fixture
def expo(app: Flask, make) -> Event:
    return _event(app, make, "Smart Factory Expo",
                  transport_notes="Metro line 2, exit B; 5 minutes on foot.",
                  gift="A canvas tote bag", map_url="https://maps.example.com/expo")


def _book(app: Flask, event: Event, *, name: str = "Li Lei", phone: str = "+8613800138000",
          email: str = "li.lei@example.com", locale: str = "en",
          visitor_id: str | None = None) -> Registration:
    """Book through the service, as the booking page does, and commit (which hands the
    messages to the sender)."""
    with app.app_context():
        stored = db.session.get(Event, event.id)
        result = book(stored, BookingRequest(
            form={"name": name, "phone": phone, "email": email}, consent=True, locale=locale,
            visitor_id=visitor_id))
        db.session.commit()
        return result.registration


def _messages(app: Flask, registration: Registration) -> list[OutboxMessage]:
    with app.app_context():
        return db.session.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.registration_id == registration.id).order_by(OutboxMessage.id)).all()


def _parts(mail: EmailMessage) -> tuple[str, str]:
    return (mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content())


def _decode_qr(mail: EmailMessage, folder: Path) -> str:
    [image] = [part for part in mail.walk() if part.get_content_type() == "image/png"]
    html = mail.get_body(("html",)).get_content()
    assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html, "the HTML shows the image"
    assert image.get_content_disposition() == "inline"
    path = folder / "ticket-qr.png"
    path.write_bytes(image.get_content())
    result = subprocess.run(["zbarimg", "--raw", "-q", str(path)], capture_output=True,
                            text=True, check=True)
    return result.stdout.strip()


def test_the_ticket_email_arrives_with_its_qr_code_inline(app, expo, smtp_server, tmp_path):
    registration = _book(app, expo)
    smtp_server.wait_for(1)
    [received] = smtp_server.received
    assert received.rcpt_tos == ["li.lei@example.com"]
    assert received.mail_from == "tickets@example.com"
    [mail] = smtp_server.messages()
    assert mail["Subject"] == "Your ticket: Smart Factory Expo"
    assert mail.get_content_type() == "multipart/alternative"
    text, html = _parts(mail)
    assert _decode_qr(mail, tmp_path) == registration.ticket_code

    for part in (text, html):
        assert "Hello Li Lei," in part
        assert "Sun, May 12, 2030 9:30\u202fAM – 5:30\u202fPM (GMT+08:00)" in part
        assert "Hall A" in part and "1 Expo Road" in part
        assert "Metro line 2, exit B" in part and "A canvas tote bag" in part
        assert "https://maps.example.com/expo" in part
    email_row = next(m for m in _messages(app, registration) if m.medium == Medium.EMAIL)
    assert email_row.status == MessageStatus.SENT
    [ticket_link] = set(re.findall(r"https://events\.example\.com/t/[\w-]+\?m=[\w.-]+", text))
    assert f'href="{ticket_link}"' in html
    assert urlsplit(ticket_link).path == f"/t/{registration.ticket_token}"
    with app.app_context():
        assert read_message_ref(parse_qs(urlsplit(ticket_link).query)["m"][0]) == email_row.id
    calendar = f"https://events.example.com/t/{registration.ticket_token}/event.ics"
    assert calendar in text and f'href="{calendar}"' in html
    assert f"https://events.example.com/e/{expo.slug}?r={registration.share_code}" in text


def test_the_ticket_sms_is_one_short_line_with_the_ticket_link(app, expo, smtp_server):
    registration = _book(app, expo)
    [(phone, text)] = TEXTS
    assert phone == "+8613800138000"
    assert text.startswith("Smart Factory Expo: your place is booked.")
    assert "Hall A" in text and "\n" not in text
    assert re.search(rf"https://events\.example\.com/t/{registration.ticket_token}\?m=\S+$",
                     text)
    sms_row = next(m for m in _messages(app, registration) if m.medium == Medium.SMS)
    assert sms_row.status == MessageStatus.SENT


def test_a_chinese_speaker_gets_the_time_in_chinese(app, expo, smtp_server):
    _book(app, expo, locale="zh_CN")
    smtp_server.wait_for(1)
    text, html = _parts(smtp_server.messages()[0])
    assert '<html lang="zh-Hans-CN">' in html
    for part in (text, html):
        assert "2030年5月12日" in part and "GMT+08:00" in part
    assert "5月12日" in TEXTS[0][1]


def test_event_details_are_escaped_in_html(app, make, smtp_server):
    event = _event(app, make, "R&D <Summit>")
    _book(app, event)
    smtp_server.wait_for(1)
    mail = smtp_server.messages()[0]
    text, html = _parts(mail)
    assert mail["Subject"] == "Your ticket: R&D <Summit>"
    assert "R&amp;D &lt;Summit&gt;" in html and "<Summit>" not in html
    assert "R&D <Summit>" in text


def test_a_full_event_waitlists_and_mails_the_ticket_when_a_place_frees(
        app, make, smtp_server, tmp_path):
    event = _event(app, make, "Small Workshop", capacity=1)
    first = _book(app, event, name="Han Meimei", phone="+8613900139000",
                  email="han@example.com")
    second = _book(app, event)
    smtp_server.wait_for(2)
    waitlisted = smtp_server.messages()[1]
    assert smtp_server.received[1].rcpt_tos == ["li.lei@example.com"]
    assert waitlisted["Subject"] == "You are on the waiting list: Small Workshop"
    assert not [part for part in waitlisted.walk() if part.get_content_maintype() == "image"]
    text, _html = _parts(waitlisted)
    assert "you are on the waiting list" in text and "send you your ticket" in text
    assert TEXTS[-1][1].startswith("Small Workshop: the event is full")

    with app.app_context():
        cancel_registration(db.session.get(Registration, first.id))
        db.session.commit()
    smtp_server.wait_for(3)
    promoted = smtp_server.messages()[2]
    assert smtp_server.received[2].rcpt_tos == ["li.lei@example.com"]
    assert promoted["Subject"] == "Good news, you have a place: Small Workshop"
    assert "has become free, and it is yours" in _parts(promoted)[0]
    assert _decode_qr(promoted, tmp_path) == second.ticket_code


def test_booking_again_with_someones_details_sends_the_ticket_to_them(
        app, expo, smtp_server, tmp_path):
    registration = _book(app, expo, visitor_id="9b6f1c5e-0000-4000-8000-000000000001")
    smtp_server.wait_for(1)
    _book(app, expo, visitor_id="9b6f1c5e-0000-4000-8000-000000000002")
    smtp_server.wait_for(2)
    again = smtp_server.messages()[1]
    assert smtp_server.received[1].rcpt_tos == ["li.lei@example.com"]
    assert again["Subject"] == "Your ticket again: Smart Factory Expo"
    assert "perhaps you" in _parts(again)[0]
    assert _decode_qr(again, tmp_path) == registration.ticket_code
    assert TEXTS[-1][1].startswith("Smart Factory Expo: you already have a place.")


def test_a_pending_ticket_message_of_a_cancelled_booking_is_skipped(app, expo, smtp_server):
    app.config["SMTP_PORT"] = free_port()  # the mail server is down when the booking is made
    registration = _book(app, expo, phone="")
    [pending] = _messages(app, registration)
    assert pending.status == MessageStatus.QUEUED and pending.attempts == 1
    with app.app_context():
        cancel_registration(db.session.get(Registration, registration.id))
        db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.session.commit()
        app.config["SMTP_PORT"] = smtp_server.port
        assert send_due_messages().skipped == 1
    [skipped] = _messages(app, registration)
    assert skipped.status == MessageStatus.SKIPPED and "cancelled" in skipped.last_error
    assert smtp_server.received == []


def test_the_waiting_list_message_is_skipped_once_the_person_got_a_place(app, make, smtp_server):
    event = _event(app, make, "Small Workshop", capacity=1)
    first = _book(app, event, name="Han Meimei", phone="+8613900139000",
                  email="han@example.com")
    app.config["SMTP_PORT"] = free_port()  # the server is down: the waiting-list mail waits
    second = _book(app, event, phone="")
    with app.app_context():
        cancel_registration(db.session.get(Registration, first.id))
        db.session.commit()
        app.config["SMTP_PORT"] = smtp_server.port
        db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.session.commit()
        send_due_messages()
    by_kind = {m.kind: m for m in _messages(app, second)}
    assert by_kind["waitlisted"].status == MessageStatus.SKIPPED
    assert by_kind["promoted"].status == MessageStatus.SENT
    subjects = [mail["Subject"] for mail in smtp_server.messages()]
    assert "Good news, you have a place: Small Workshop" in subjects
    assert not any("waiting list" in subject for subject in subjects)


def test_no_ticket_message_goes_out_after_the_event(app, make, smtp_server):
    event = _event(app, make, "Tomorrow", starts_at=utcnow() + timedelta(days=1))
    app.config["SMTP_PORT"] = free_port()
    registration = _book(app, event, phone="")
    with app.app_context():
        stored = db.session.get(Event, event.id)
        stored.starts_at, stored.ends_at = (utcnow() - timedelta(hours=9),
                                            utcnow() - timedelta(hours=1))
        db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.session.commit()
        app.config["SMTP_PORT"] = smtp_server.port
        send_due_messages()
    [message] = _messages(app, registration)
    assert message.status == MessageStatus.SKIPPED and message.last_error == "the event is over"
