"""What each outbox message says: the registry of renderers, and the ticket messages.

A feature that queues a message kind registers how to render it:

    @renderer("reminder")
    def render_reminder(message: OutboxMessage) -> RenderedMessage: ...

    @renderer("invitation", marketing=True)  # skipped for people who opted out
    def render_invitation(message: OutboxMessage) -> RenderedMessage: ...

The sender (eventapp.core.outbox) calls the renderer when it sends, not when the message is
queued, inside `force_locale(message.locale)`: `_()` speaks the recipient's language, and the
registration, event and contact are read as they are then. A renderer raises
`MessageSkipped(reason)` when the message must not go out any more (a cancelled booking's
pending ticket); the reason is kept on the row. One renderer serves both media: for an SMS only
`RenderedMessage.text` is used.

Templates: templates/messages/<name>.html and .txt (the e-mail's two parts, on the shared
layout messages/email.html) and <name>.sms.txt.

This module is imported by eventapp.invites.tasks, which create_app imports: the registry is
filled in web processes and in Celery workers alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from babel.dates import format_skeleton, format_time, get_timezone_gmt
from flask import render_template
from flask_babel import get_locale
from flask_babel import gettext as _

from eventapp.contacts.models import Contact
from eventapp.core.outbox import (Medium, MessageSkipped, OutboxMessage, RenderedMessage,
                                  register_renderer)
from eventapp.core.time import in_zone, utcnow, zone
from eventapp.events.models import Event, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.booking import ticket_code
from eventapp.invites.links import invitation_url, ticket_url
from eventapp.invites.qrcodes import qr_png

__all__ = ["MessageSkipped", "RenderedMessage", "renderer", "registration_of",
           "event_time_range"]

Render = Callable[[OutboxMessage], RenderedMessage]


def renderer(kind: str, *, marketing: bool = False) -> Callable[[Render], Render]:
    """Register the decorated function as the renderer of messages of `kind`. A marketing
    kind is skipped for contacts who opted out (and for messages without a contact, whose
    consent cannot be checked); transactional kinds go to everyone."""

    def register(render: Render) -> Render:
        register_renderer(kind, _unless_opted_out(render) if marketing else render,
                          marketing=marketing)
        return render

    return register


def _unless_opted_out(render: Render) -> Render:
    @functools.wraps(render)
    def checked(message: OutboxMessage) -> RenderedMessage:
        contact = db.session.get(Contact, message.contact_id) if message.contact_id else None
        if contact is None:
            raise MessageSkipped("marketing message without a contact: its opt-out cannot be "
                                 "checked")
        if contact.opted_out_at is not None:
            raise MessageSkipped("the person opted out of marketing messages")
        return render(message)

    return checked


# --- what ticket messages share -------------------------------------------------------------

def registration_of(message: OutboxMessage) -> Registration:
    """The message's registration with its event and contact, as they are now; skipped when
    the registration is gone or cancelled, or its event is over."""
    registration = None
    if message.registration_id is not None:
        registration = db.session.scalar(
            sa.select(Registration).where(Registration.id == message.registration_id)
            .options(sa.orm.joinedload(Registration.event),
                     sa.orm.joinedload(Registration.contact)))
    if registration is None:
        raise MessageSkipped("the registration no longer exists")
    if registration.status == RegistrationStatus.CANCELLED:
        raise MessageSkipped("the registration was cancelled before the message was sent")
    if registration.event.ends_at <= utcnow():
        raise MessageSkipped("the event is over")
    return registration


def event_time_range(event: Event) -> str:
    """"Sat, Dec 12, 2026 9:30 AM – 5:30 PM (GMT+08:00)" in the event's timezone and the
    current language."""
    locale, tz = get_locale(), zone(event.timezone)
    start, end = event.starts_at, event.ends_at
    text = (f"{format_skeleton('yMMMEd', start, tzinfo=tz, locale=locale)} "
            f"{format_time(start, 'short', tzinfo=tz, locale=locale)} – ")
    if in_zone(start, event.timezone).date() != in_zone(end, event.timezone).date():
        text += format_skeleton("MMMEd", end, tzinfo=tz, locale=locale) + " "
    text += format_time(end, "short", tzinfo=tz, locale=locale)
    return f"{text} ({get_timezone_gmt(start.astimezone(tz), 'long', locale=locale)})"


def _short_start(event: Event) -> str:
    """The start as a text message says it: "Sun, May 12 9:30 AM" / "5月12日周日 09:30"."""
    locale, tz = get_locale(), zone(event.timezone)
    return (f"{format_skeleton('MMMEd', event.starts_at, tzinfo=tz, locale=locale)} "
            f"{format_time(event.starts_at, 'short', tzinfo=tz, locale=locale)}")


def _context(message: OutboxMessage, registration: Registration, **extra: Any) -> dict[str, Any]:
    event = registration.event
    ticket_link = ticket_url(registration, message_id=message.id)
    map_url = event.map_url if event.map_url.lower().startswith(("https://", "http://")) else ""
    return {"message": message, "kind": message.kind, "registration": registration,
            "event": event, "contact": registration.contact, "when": event_time_range(event),
            "short_start": _short_start(event), "ticket_link": ticket_link,
            "calendar_link": f"{ticket_url(registration)}/event.ics", "map_url": map_url,
            "share_link": invitation_url(event, share_code=registration.share_code), **extra}


def _rendered(message: OutboxMessage, template: str, subject: str,
              context: dict[str, Any], images: list[tuple[str, bytes, str]] | None = None
              ) -> RenderedMessage:
    context = {**context, "subject": subject}
    if message.medium == Medium.SMS:
        return RenderedMessage(subject=subject, text=_one_line(
            render_template(f"messages/{template}.sms.txt", **context)))
    return RenderedMessage(subject=subject,
                           text=render_template(f"messages/{template}.txt", **context),
                           html=render_template(f"messages/{template}.html", **context),
                           inline_images=images or [])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _ticket_message(message: OutboxMessage, registration: Registration,
                    subject: str) -> RenderedMessage:
    """The ticket by e-mail (its QR code inline) or by SMS (the ticket link)."""
    if message.medium == Medium.SMS:
        return _rendered(message, "ticket", subject, _context(message, registration))
    qr_cid = f"ticket-qr.{message.id}@eventapp"
    images = [(qr_cid, qr_png(ticket_code(registration)), "png")]
    return _rendered(message, "ticket", subject,
                     _context(message, registration, qr_cid=qr_cid), images)


def _waitlist_message(message: OutboxMessage, registration: Registration,
                      subject: str) -> RenderedMessage:
    return _rendered(message, "waitlisted", subject, _context(message, registration))


# --- the ticket messages --------------------------------------------------------------------

@renderer("ticket")
def render_ticket(message: OutboxMessage) -> RenderedMessage:
    """A new booking is confirmed: here is the ticket."""
    registration = registration_of(message)
    if registration.status != RegistrationStatus.CONFIRMED:
        raise MessageSkipped("the registration is on the waiting list")
    return _ticket_message(message, registration,
                           _("Your ticket: %(title)s", title=registration.event.title))


@renderer("promoted")
def render_promoted(message: OutboxMessage) -> RenderedMessage:
    """A place became free and a waiting-list booking got it: here is the ticket."""
    registration = registration_of(message)
    if registration.status != RegistrationStatus.CONFIRMED:
        raise MessageSkipped("the registration is on the waiting list again")
    return _ticket_message(message, registration, _("Good news, you have a place: %(title)s",
                                                    title=registration.event.title))


@renderer("ticket_again")
def render_ticket_again(message: OutboxMessage) -> RenderedMessage:
    """Someone booked again with the person's mobile or e-mail: the ticket (or the
    waiting-list news) goes to the person, never to whoever typed their details."""
    registration = registration_of(message)
    title = registration.event.title
    if registration.status == RegistrationStatus.WAITLISTED:
        return _waitlist_message(message, registration,
                                 _("You are still on the waiting list: %(title)s", title=title))
    return _ticket_message(message, registration, _("Your ticket again: %(title)s", title=title))


@renderer("waitlisted")
def render_waitlisted(message: OutboxMessage) -> RenderedMessage:
    """The event was full: the person is on the waiting list."""
    registration = registration_of(message)
    if registration.status != RegistrationStatus.WAITLISTED:
        raise MessageSkipped("the registration got a place before this message was sent; "
                             "the ticket message tells the person")
    return _waitlist_message(message, registration, _("You are on the waiting list: %(title)s",
                                                      title=registration.event.title))
