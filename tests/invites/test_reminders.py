"""The day-before reminder: queued once per confirmed registration and medium, by the beat task,
and written at send time with the event's time, place, weather and how many are coming."""

from __future__ import annotations

import email
import subprocess
import threading
from datetime import date, datetime, timedelta, timezone
from email import policy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask import Flask

from eventapp.core.outbox import (Medium, MessageSkipped, MessageStatus, OutboxMessage,
                                  render_message)
from eventapp.core.time import in_zone, utcnow
from eventapp.events.models import Event, EventStatus, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites import messages, reminders
from eventapp.invites.booking import cancel_registration
from eventapp.invites.links import read_message_ref
from eventapp.invites.outbox_bulk import OutboxRow, queue_messages_once
from eventapp.invites.tasks import send_reminders
from eventapp.invites.tickets import verify_ticket
from eventapp.invites.weather import Forecast
from eventapp.testing.services import free_port
from tests.factories import Factory
from tests.invites.test_weather import forecast_server, open_meteo_body  # noqa: F401 (fixture)

# Thursday 12 March 2026, 09:30 in Shanghai.
STARTS = datetime(2026, 3, 12, 1, 30, tzinfo=timezone.utc)


def reminder_keys(app: Flask) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(sa.select(OutboxMessage.dedupe_key)
                                         .where(OutboxMessage.kind == "reminder")))


def queue(app: Flask, now: datetime | None = None, **kwargs: Any) -> int:
    with app.app_context():
        queued = reminders.queue_reminders(now or utcnow(), **kwargs)
        db.session.commit()
        return queued


def dress(app: Flask, event: Event, **fields: Any) -> Event:
    """Give the event what a reminder talks about."""
    values = {"venue": "国家会展中心 Hall 2", "address": "上海市青浦区崧泽大道333号",
              "transport_notes": "Metro line 2 to Xujingdong, exit 8.",
              "map_url": "https://map.example.com/hall2", "gift": "a thermos",
              "weather_note": "The hall is air-conditioned: bring a light jacket.", **fields}
    with app.app_context():
        stored = db.session.get(Event, event.id)
        for name, value in values.items():
            setattr(stored, name, value)
        db.session.commit()
    for name, value in values.items():
        setattr(event, name, value)
    return event


@pytest.fixture
def tomorrow(make: Factory) -> Event:
    return make.event(starts_at=utcnow() + timedelta(hours=20))


def test_each_confirmed_registration_gets_one_reminder_per_medium(app, make, tomorrow):
    person = make.contact()
    both = make.registration(tomorrow, person)
    sms_only = make.registration(tomorrow, make.contact(email=""))
    make.registration(tomorrow, status=RegistrationStatus.WAITLISTED)
    make.registration(tomorrow, status=RegistrationStatus.CANCELLED)
    assert queue(app) == 3
    assert reminder_keys(app) == sorted([f"reminder:{both.id}:email", f"reminder:{both.id}:sms",
                                         f"reminder:{sms_only.id}:sms"])
    with app.app_context():
        message = db.session.scalar(sa.select(OutboxMessage).where(
            OutboxMessage.dedupe_key == f"reminder:{both.id}:email"))
        assert (message.recipient, message.registration_id, message.event_id,
                message.contact_id) == (person.email, both.id, tomorrow.id, person.id)


def test_running_again_queues_nothing_more(app, make, tomorrow):
    for _ in range(3):
        make.registration(tomorrow)
    assert queue(app) == 6
    assert queue(app) == 0
    with app.app_context():
        assert send_reminders.apply().get() == 0
    assert len(reminder_keys(app)) == 6


def test_overlapping_runs_queue_each_reminder_once(app, make, tomorrow):
    for _ in range(4):
        make.registration(tomorrow)
    results: list[Any] = []

    def run() -> None:
        try:
            with app.app_context():
                results.append(send_reminders.apply().get())
        except Exception as error:  # noqa: BLE001 (reported below)
            results.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(result, int) for result in results), results
    assert sum(results) == 8 and len(reminder_keys(app)) == 8


def test_a_reminder_inserted_meanwhile_is_skipped_not_an_error(app, make, tomorrow):
    """Between finding the missing reminders and inserting them, another run inserted one."""
    first, second = make.registration(tomorrow), make.registration(tomorrow)
    with app.app_context():
        pending = reminders.pending_reminders(db.session.get(Event, tomorrow.id))
        db.session.rollback()
    assert len(pending) == 4
    queue(app)  # the other run
    with app.app_context():
        rows = [OutboxRow(medium=medium, kind="reminder", recipient=address,
                                    locale="en", dedupe_key=reminders.reminder_key(reg, medium),
                                    event_id=tomorrow.id, registration_id=reg)
                for reg, _contact, medium, address, _locale in pending]
        assert queue_messages_once(rows) == []
        db.session.commit()
    assert len(reminder_keys(app)) == 4
    assert {first.id, second.id} == {int(key.split(":")[1]) for key in reminder_keys(app)}


def test_a_person_promoted_later_still_gets_one(app, make):
    event = make.event(starts_at=utcnow() + timedelta(hours=10), capacity=1)
    holder = make.registration(event)
    waiting = make.registration(event, status=RegistrationStatus.WAITLISTED)
    assert queue(app) == 2
    with app.app_context():
        promoted = cancel_registration(db.session.get(Registration, holder.id))
        db.session.commit()
    assert [r.id for r in promoted] == [waiting.id]
    assert queue(app) == 2
    assert reminder_keys(app) == sorted(f"reminder:{r}:{m}" for r in (holder.id, waiting.id)
                                        for m in ("email", "sms"))


def test_only_events_starting_within_the_window_are_reminded(app, make):
    now = utcnow()
    app.config["REMINDER_HOURS_BEFORE"] = 24
    soon = make.event(starts_at=now + timedelta(hours=23, minutes=50))
    later = make.event(starts_at=now + timedelta(hours=30))
    started = make.event(starts_at=now - timedelta(hours=1))
    draft = make.event(starts_at=now + timedelta(hours=5), status=EventStatus.DRAFT)
    registrations = {event.id: make.registration(event) for event in (soon, later, started,
                                                                         draft)}
    assert queue(app, now) == 2
    assert {int(key.split(":")[1]) for key in reminder_keys(app)} == {registrations[soon.id].id}
    # Six hours on, the later event is inside the window too.
    assert queue(app, now + timedelta(hours=7)) == 2


def test_the_window_follows_the_setting(app, make):
    now = utcnow()
    event = make.event(starts_at=now + timedelta(hours=40))
    make.registration(event)
    assert queue(app, now) == 0
    app.config["REMINDER_HOURS_BEFORE"] = 48
    assert queue(app, now) == 2


# --- the message ----------------------------------------------------------------------------

def stored_reminder(app: Flask, registration: Registration, medium: Medium) -> OutboxMessage:
    with app.app_context():
        return db.session.scalar(sa.select(OutboxMessage).where(
            OutboxMessage.dedupe_key == reminders.reminder_key(registration.id, medium)))


def rendered(app: Flask, registration: Registration, medium: Medium, locale: str = "en") -> Any:
    with app.app_context():
        message = db.session.get(OutboxMessage, stored_reminder(app, registration, medium).id)
        message.locale = locale
        return message.id, render_message(message)


@pytest.fixture
def thursday(app: Flask, make: Factory, monkeypatch: pytest.MonkeyPatch) -> Event:
    """An event on Thursday 12 March 2026 at 09:30 in Shanghai, seen from 20 hours before."""
    event = dress(app, make.event(starts_at=STARTS))
    monkeypatch.setattr(reminders, "utcnow", lambda: STARTS - timedelta(hours=20))
    monkeypatch.setattr(messages, "utcnow", lambda: STARTS - timedelta(hours=20))
    return event


def test_the_email_says_when_where_the_weather_and_how_many_come(app, make, thursday):
    registration = make.registration(thursday, make.contact(name="Emily Clark"))
    make.registration(thursday)
    make.registration(thursday, status=RegistrationStatus.WAITLISTED)
    queue(app, STARTS - timedelta(hours=20))
    message_id, mail = rendered(app, registration, Medium.EMAIL)
    assert mail.subject == f"Reminder: {thursday.title}, Thu, Mar 12 9:30\u202fAM"
    for text in (mail.text, mail.html):
        assert "Hello Emily Clark," in text
        assert "Thu, Mar 12, 2026" in text and "9:30\u202fAM" in text  # Shanghai time
        assert "国家会展中心 Hall 2" in text and "上海市青浦区崧泽大道333号" in text
        assert "Metro line 2 to Xujingdong, exit 8." in text
        assert "https://map.example.com/hall2" in text
        assert "The hall is air-conditioned: bring a light jacket." in text
        assert "2 people are coming." in text
        assert "a thermos" in text
    link = next(word for word in mail.text.split() if "/t/" in word)
    assert link.startswith(f"http://127.0.0.1:5000/t/{registration.ticket_token}?m=")
    with app.app_context():
        assert read_message_ref(link.split("?m=")[1]) == message_id


def test_the_email_carries_the_ticket_qr_code_inline(app, make, thursday, tmp_path):
    registration = make.registration(thursday)
    queue(app, STARTS - timedelta(hours=20))
    _id, mail = rendered(app, registration, Medium.EMAIL)
    ((cid, png, subtype),) = mail.inline_images
    assert subtype == "png" and f'src="cid:{cid}"' in mail.html
    path = tmp_path / "qr.png"
    path.write_bytes(png)
    decoded = subprocess.run(["zbarimg", "--raw", "-q", str(path)], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert decoded == registration.ticket_code
    assert verify_ticket(decoded, thursday.id, thursday.ticket_public_key)


def test_the_sms_is_short_with_the_ticket_link(app, make, thursday):
    registration = make.registration(thursday)
    queue(app, STARTS - timedelta(hours=20))
    _id, sms = rendered(app, registration, Medium.SMS)
    assert sms.text.startswith(f"Reminder: {thursday.title}, Thu, Mar 12 9:30 AM, ")
    assert "国家会展中心 Hall 2" in sms.text and f"/t/{registration.ticket_token}?m=" in sms.text
    assert "\n" not in sms.text and len(sms.text) < 200


def test_the_count_is_taken_when_the_message_is_sent(app, make, thursday):
    registration = make.registration(thursday)
    queue(app, STARTS - timedelta(hours=20))
    for _ in range(4):
        make.registration(thursday)
    _id, mail = rendered(app, registration, Medium.EMAIL)
    assert "5 people are coming." in mail.text


def test_a_forecast_found_when_queueing_is_in_the_message(app, make, thursday):
    registration = make.registration(thursday)
    forecast = Forecast(day=date(2026, 3, 12), low_c=11.6, high_c=18.2, rain_chance=60,
                        weather_code=61)
    queue(app, STARTS - timedelta(hours=20), forecasts={thursday.id: forecast})
    _id, mail = rendered(app, registration, Medium.EMAIL)
    assert "Forecast for Thu: 12–18 °C, light rain, 60% chance of rain" in mail.text
    assert "air-conditioned" not in mail.text  # the forecast, or else the note
    _id, sms = rendered(app, registration, Medium.SMS)
    assert "Forecast for Thu: 12–18 °C" in sms.text


def test_the_beat_task_looks_up_the_forecast_from_open_meteo(app, make, forecast_server):
    now = utcnow()
    starts = now + timedelta(hours=20)
    event = dress(app, make.event(starts_at=starts), latitude=31.19, longitude=121.31)
    registration = make.registration(event)
    local_day = in_zone(starts, "Asia/Shanghai").date()
    forecast_server.answer(open_meteo_body(day=local_day.isoformat(), code=3, rain=10))
    app.config["WEATHER_URL"] = forecast_server.url
    with app.app_context():
        assert send_reminders.apply().get() == 2
    assert len(forecast_server.requests) == 1
    _id, mail = rendered(app, registration, Medium.EMAIL)
    assert "12–18 °C, overcast, 10% chance of rain" in mail.text
    with app.app_context():
        assert send_reminders.apply().get() == 0
    assert len(forecast_server.requests) == 1, "no look-up when nobody needs a reminder"


def test_a_failing_forecast_service_falls_back_to_the_note(app, make, forecast_server):
    event = dress(app, make.event(starts_at=utcnow() + timedelta(hours=20)), latitude=31.19,
                  longitude=121.31)
    registration = make.registration(event)
    forecast_server.answer(b"<html>gateway timeout</html>", status=504)
    app.config["WEATHER_URL"] = forecast_server.url
    with app.app_context():
        assert send_reminders.apply().get() == 2
    _id, mail = rendered(app, registration, Medium.EMAIL)
    assert "Weather: The hall is air-conditioned" in mail.text


def test_no_weather_line_without_forecast_or_note(app, make, thursday):
    dress(app, thursday, weather_note="")
    registration = make.registration(thursday)
    queue(app, STARTS - timedelta(hours=20))
    _id, mail = rendered(app, registration, Medium.EMAIL)
    assert "Weather" not in mail.text and "Weather" not in mail.html


def test_a_reminder_is_not_sent_after_the_booking_was_cancelled(app, make, thursday):
    registration = make.registration(thursday)
    queue(app, STARTS - timedelta(hours=20))
    with app.app_context():
        cancel_registration(db.session.get(Registration, registration.id))
        db.session.commit()
    with pytest.raises(MessageSkipped):
        rendered(app, registration, Medium.EMAIL)


def test_the_reminder_is_written_in_the_recipients_language(app, make, thursday):
    registration = make.registration(thursday, make.contact(locale="zh_CN"))
    queue(app, STARTS - timedelta(hours=20))
    message = stored_reminder(app, registration, Medium.EMAIL)
    assert message.locale == "zh_CN"
    _id, mail = rendered(app, registration, Medium.EMAIL, locale="zh_CN")
    assert "2026年3月12日" in mail.text and "周四" in mail.text


# --- through a real SMTP server -------------------------------------------------------------

class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Any:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def test_reminders_reach_a_real_mail_server_once(app, make, smtp_server, tmp_path):
    controller, inbox = smtp_server
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port)
    event = dress(app, make.event(starts_at=utcnow() + timedelta(hours=20)))
    guests = [make.contact(name=f"Guest {n}") for n in range(3)]
    people = [make.registration(event, guest) for guest in guests]
    with app.app_context():
        assert send_reminders.apply().get() == 6
        assert send_reminders.apply().get() == 0
        statuses = db.session.execute(sa.select(OutboxMessage.medium, OutboxMessage.status)
                                      .where(OutboxMessage.kind == "reminder")).all()
    assert sorted(statuses) == sorted([(Medium.EMAIL, MessageStatus.SENT)] * 3
                                      + [(Medium.SMS, MessageStatus.SENT)] * 3)
    assert sorted(m["To"] for m in inbox.messages) == sorted(guest.email for guest in guests)
    mail = inbox.messages[0]
    assert mail["Subject"].startswith(f"Reminder: {event.title}")
    image = next(part for part in mail.walk() if part.get_content_type() == "image/png")
    path = Path(tmp_path / "ticket.png")
    path.write_bytes(image.get_content())
    decoded = subprocess.run(["zbarimg", "--raw", "-q", str(path)], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert decoded in {p.ticket_code for p in people}
