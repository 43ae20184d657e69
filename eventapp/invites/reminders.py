"""The day-before reminder: once per confirmed registration and medium, queued by Celery beat
(every 15 minutes) for events starting within REMINDER_HOURS_BEFORE hours.

Once means once: each reminder's `dedupe_key` ("reminder:<registration id>:<medium>") is
unique in the outbox, so a second beat run, or two overlapping ones, queue nothing more. A
person confirmed later (promoted from the waiting list) is found by the next run; a cancelled
or waitlisted one is not reminded.

The weather is looked up once per event when the reminders are queued, outside any database
transaction, and kept in the messages' payload; the message is written at send time, in the
recipient's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, render_template
from babel.dates import format_skeleton, format_time
from flask_babel import get_locale
from flask_babel import gettext as _

from eventapp.contacts.models import Contact
from eventapp.core.outbox import Medium, MessageSkipped, OutboxMessage, RenderedMessage
from eventapp.core.time import utcnow, zone
from eventapp.events.models import Event, EventStatus, Registration, RegistrationStatus
from eventapp.events.services import confirmed_count
from eventapp.extensions import db
from eventapp.invites.booking import ticket_code
from eventapp.invites.links import ticket_url
from eventapp.invites.messages import event_time_range, registration_of, renderer
from eventapp.invites.outbox_bulk import OutboxRow, queue_messages_once
from eventapp.invites.qrcodes import qr_png
from eventapp.invites.weather import Forecast, OrganiserNoteProvider, forecast_for

REMINDER_KIND = "reminder"


def reminder_key(registration_id: int, medium: Medium) -> str:
    return f"reminder:{registration_id}:{medium.value}"


def due_events(now: datetime | None = None) -> list[Event]:
    """Published events that have not started and start within REMINDER_HOURS_BEFORE hours."""
    now = now or utcnow()
    horizon = now + timedelta(hours=current_app.config["REMINDER_HOURS_BEFORE"])
    return list(db.session.scalars(
        sa.select(Event).where(Event.status == EventStatus.PUBLISHED, Event.starts_at > now,
                               Event.starts_at <= horizon).order_by(Event.starts_at, Event.id)))


def _pending_for_medium(event: Event, medium: Medium) -> sa.Select:
    address = Contact.email if medium == Medium.EMAIL else Contact.phone
    key = (sa.literal(f"{REMINDER_KIND}:") + sa.cast(Registration.id, sa.String)
           + sa.literal(f":{medium.value}"))
    return (sa.select(Registration.id, Contact.id, sa.literal(medium.value), address,
                      Contact.locale)
            .join(Contact, Contact.id == Registration.contact_id)
            .where(Registration.event_id == event.id,
                   Registration.status == RegistrationStatus.CONFIRMED,
                   address.is_not(None), address != "",
                   ~sa.exists(sa.select(1).where(OutboxMessage.dedupe_key == key))))


def pending_reminders(event: Event) -> list[tuple[int, int, Medium, str, str | None]]:
    """(registration id, contact id, medium, address, locale) of every reminder the event's
    confirmed registrations still lack, one per medium the person gave an address for. One
    query; each row's absence is checked through the outbox's unique dedupe_key index."""
    query = sa.union_all(_pending_for_medium(event, Medium.EMAIL),
                         _pending_for_medium(event, Medium.SMS))
    return [(row[0], row[1], Medium(row[2]), row[3], row[4])
            for row in db.session.execute(query)]


def queue_event_reminders(event: Event, forecast: Forecast | None) -> int:
    """Queue the event's missing reminders (see `pending_reminders`) in the caller's
    transaction; returns how many were queued. A reminder queued meanwhile by another run
    is skipped, not duplicated."""
    default_locale = current_app.config["DEFAULT_LOCALE"]
    payload = {"forecast": forecast.to_payload()} if forecast and not forecast.is_note else {}
    rows = [OutboxRow(medium=medium, kind=REMINDER_KIND, recipient=address,
                      locale=locale or default_locale, event_id=event.id,
                      contact_id=contact_id, registration_id=registration_id,
                      dedupe_key=reminder_key(registration_id, medium), payload=payload)
            for registration_id, contact_id, medium, address, locale in pending_reminders(event)]
    return len(queue_messages_once(rows))


def queue_reminders(now: datetime | None = None, *,
                    forecasts: Mapping[int, Forecast | None] | None = None) -> int:
    """Queue the reminders of every due event that are not queued yet; returns how many.
    `forecasts` (by event id) are the weather looked up beforehand; without them the weather
    is looked up here (a network request: the beat task looks it up before its transaction)."""
    queued = 0
    for event in due_events(now):
        forecast = forecasts.get(event.id) if forecasts is not None else forecast_for(event)
        queued += queue_event_reminders(event, forecast)
    return queued


def events_needing_reminders(now: datetime | None = None) -> list[Event]:
    """The due events that still have a confirmed registration without its reminder (so the
    weather is looked up only for events that need it)."""
    return [event for event in due_events(now) if _has_pending(event)]


def _has_pending(event: Event) -> bool:
    for medium in (Medium.EMAIL, Medium.SMS):
        if db.session.execute(_pending_for_medium(event, medium).limit(1)).first():
            return True
    return False


# --- the message ----------------------------------------------------------------------------

def _reminded_registration(message: OutboxMessage) -> Registration:
    """The registration a reminder is about, as it is now; MessageSkipped when reminding makes
    no sense any more (cancelled, back on the waiting list, the event started or closed)."""
    registration = registration_of(message)
    if registration.status != RegistrationStatus.CONFIRMED:
        raise MessageSkipped(f"the registration is {registration.status.value}")
    event = registration.event
    if event.status != EventStatus.PUBLISHED or event.starts_at <= utcnow():
        raise MessageSkipped("the event has started or is no longer published")
    return registration


def short_start(event: Event) -> str:
    """The start as a subject line or an SMS says it: "Thu, Mar 12 9:30 AM" / "3月12日周四 09:30",
    in the event's timezone."""
    locale, tz = get_locale(), zone(event.timezone)
    return (f"{format_skeleton('MMMEd', event.starts_at, tzinfo=tz, locale=locale)} "
            f"{format_time(event.starts_at, 'short', tzinfo=tz, locale=locale)}")


def reminder_weather(message: OutboxMessage, event: Event) -> Forecast | None:
    """The forecast looked up when the reminder was queued, else the organiser's note as it
    is now."""
    forecast = Forecast.from_payload((message.payload or {}).get("forecast"))
    return forecast if forecast is not None else OrganiserNoteProvider().forecast(event)


def _reminder_context(message: OutboxMessage, registration: Registration) -> dict[str, Any]:
    event = registration.event
    weather = reminder_weather(message, event)
    return {
        "event": event, "contact": registration.contact, "registration": registration,
        "when": event_time_range(event),
        "when_short": short_start(event),
        "map_url": event.map_url if event.map_url.lower().startswith(("https://", "http://"))
        else "",
        "weather": weather.describe() if weather else "",
        "forecast": weather.describe() if weather and not weather.is_note else "",
        "coming": confirmed_count(event),
        "ticket_link": ticket_url(registration, message_id=message.id), "with_gift": True,
    }


@renderer(REMINDER_KIND)
def render_reminder(message: OutboxMessage) -> RenderedMessage:
    """The day-before reminder: when, where, how to get there, the weather, how many are
    coming, the gift and the ticket (its QR code inline in e-mails)."""
    registration = _reminded_registration(message)
    context = _reminder_context(message, registration)
    subject = _("Reminder: %(title)s, %(when)s", title=registration.event.title,
                when=context["when_short"])
    context["subject"] = subject
    if message.medium == Medium.SMS:
        text = render_template("messages/reminder.sms.txt", **context)
        return RenderedMessage(subject=subject, text=" ".join(text.split()))
    context["qr_cid"] = f"ticket-qr.{message.id}@eventapp"
    qr = (context["qr_cid"], qr_png(ticket_code(registration)), "png")
    text = re.sub(r"\n{3,}", "\n\n", render_template("messages/reminder.txt", **context))
    return RenderedMessage(subject=subject, text=text.strip() + "\n",
                           html=render_template("messages/reminder.html", **context),
                           inline_images=[qr])
