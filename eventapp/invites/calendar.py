"""The attendee's "add to calendar" file: one iCalendar VEVENT of their booking (RFC 5545)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _

from eventapp.core.time import utcnow, zone
from eventapp.events.models import Registration, RegistrationStatus
from eventapp.invites.links import ticket_url

PRODUCT_ID = "-//eventapp//tickets//EN"
REMIND_BEFORE = timedelta(hours=2)


def _description(registration: Registration, link: str) -> str:
    event = registration.event
    parts = [event.description.strip(), event.transport_notes.strip(),
             _("Your ticket: %(link)s", link=link)]
    return "\n\n".join(part for part in parts if part)


def booking_calendar(registration: Registration) -> bytes:
    """The .ics file of the registration's event, in its own timezone, with the ticket link
    and a reminder; a cancelled booking gives a cancelled event."""
    import icalendar  # here: ~3 MiB that only the calendar download needs

    event = registration.event
    link = ticket_url(registration)
    host = urlsplit(current_app.config["PUBLIC_URL"]).hostname or "eventapp"
    tz = zone(event.timezone)
    entry = icalendar.Event()
    entry.add("uid", f"event-{event.id}-registration-{registration.id}@{host}")
    entry.add("dtstamp", utcnow())
    entry.add("dtstart", event.starts_at.astimezone(tz))
    entry.add("dtend", event.ends_at.astimezone(tz))
    entry.add("summary", event.title)
    location = ", ".join(part for part in (event.venue, event.address) if part)
    if location:
        entry.add("location", location)
    entry.add("url", link)
    entry.add("description", _description(registration, link))
    cancelled = registration.status == RegistrationStatus.CANCELLED
    entry.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if not cancelled:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", event.title)
        alarm.add("trigger", -REMIND_BEFORE)
        entry.add_component(alarm)
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(entry)
    calendar.add_missing_timezones()
    return calendar.to_ical()
