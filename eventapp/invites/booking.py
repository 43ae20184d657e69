"""Booking a place, and what follows from it: the signed ticket, the waiting list, cancelling.

The booking path is a hot path (hundreds of people book in the minutes after an invitation goes
out), so `book` reads and validates first and then writes in one short transaction of few
statements: find the channel and the referrer, match the contact (reads; on SQLite before the
write lock is taken, see `start_writing`), then insert the contact, the registration (as
confirmed), the outbox rows (one statement on PostgreSQL) and the activity, each a Core INSERT
(`insert_now`: no unit-of-work flush), and only then, when there is a limit, lock the event
and count its places, moving the booking to the waiting list if it is one too many: the
bookings of one event take turns for that count and the commit alone. Its queries are built
once, at import. The ticket is signed in memory (~50 us).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from eventapp.contacts.models import Contact
from eventapp.contacts.services import PersonDetails, find_contact, new_contact, update_contact
from eventapp.core.activity import ActivityKind, record_activity
from eventapp.core.database import is_unique_violation, lock_row, start_writing
from eventapp.core.inserts import insert_now
from eventapp.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from eventapp.core.outbox import Medium, OutboxMessage, new_message, queue_messages
from eventapp.core.time import utcnow
from eventapp.events.booking_form import BookingFormSpec, read_answers
from eventapp.events.models import (Channel, Event, EventStatus, Registration,
                                    RegistrationStatus)
from eventapp.extensions import db
from eventapp.invites.tickets import new_key_pair, new_serial, sign_ticket

SHARE_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l: read aloud, typed by hand


class BookingClosed(Conflict):
    code = "booking_closed"
    default_message = _l("Booking for this event is closed.")


@dataclass
class BookingRequest:
    """A submitted booking form and where the person came from."""

    form: Mapping[str, Any]
    consent: bool
    locale: str
    channel_code: str | None = None
    #: The id of the channel of `channel_code`, if the caller has looked it up already.
    channel_id: int | None = None
    share_code: str | None = None
    visitor_id: str | None = None
    #: The form's one-time key: the same key twice is the same submission (a double tap).
    booking_key: str | None = None
    source: str = "booking"
    #: Registered by staff at the door: taken after booking closed and beyond capacity.
    walk_in: bool = False


@dataclass
class BookingResult:
    registration: Registration
    #: False: the person had already booked, and this is their existing registration.
    created: bool
    #: The same browser or the same form submitted again: show the ticket at once. Otherwise
    #: the ticket is sent again to the person's own address instead of shown to whoever typed
    #: their mobile number.
    same_person: bool
    #: The messages this booking queued.
    messages: list[OutboxMessage] = field(default_factory=list)


# --- tickets ------------------------------------------------------------------------------

def ensure_ticket_keys(event: Event) -> None:
    """Give the event its Ed25519 key pair if it has none yet (events made before tickets)."""
    if event.ticket_private_key is None:
        event.ticket_public_key, event.ticket_private_key = new_key_pair()


def issue_ticket(event: Event, registration: Registration) -> None:
    """A new ticket for the registration: new serial, new signed code. An earlier QR code of
    the same registration stops working."""
    ensure_ticket_keys(event)
    registration.ticket_serial = new_serial()
    assert event.ticket_private_key is not None
    registration.ticket_code = sign_ticket(event.id, registration.ticket_serial,
                                           event.ticket_private_key)


def ticket_code(registration: Registration) -> str:
    """The registration's signed QR payload (signed now if it was issued before its event had
    a key)."""
    if registration.ticket_code is None:
        event = registration.event
        ensure_ticket_keys(event)
        assert event.ticket_private_key is not None
        registration.ticket_code = sign_ticket(event.id, registration.ticket_serial,
                                               event.ticket_private_key)
    return registration.ticket_code


def new_share_code() -> str:
    return "".join(secrets.choice(SHARE_ALPHABET) for _ in range(10))


def new_ticket_token() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, 144 bits


def booking_closes_at(event: Event) -> datetime:
    return event.booking_deadline or event.ends_at


def booking_open(event: Event, now: datetime | None = None) -> bool:
    return event.status == EventStatus.PUBLISHED and (now or utcnow()) < booking_closes_at(event)


# --- booking ------------------------------------------------------------------------------

_CHANNEL_ID = sa.select(Channel.id).where(Channel.event_id == sa.bindparam("event_id"),
                                          Channel.code == sa.bindparam("code"))
_REFERRER_ID = sa.select(Registration.contact_id).where(
    Registration.event_id == sa.bindparam("event_id"),
    Registration.share_code == sa.bindparam("share_code"))
# Lock order: who changes the status of an existing registration locks the event's row
# first, then the registration's (PostgreSQL). Every status change writes the event's count
# of confirmed places (Event.confirmed_places, a trigger), and a cancellation goes on to
# promote the waiting list: a walk-in or rebooking that locked its registration first and
# then waited for the event could each hold what the other waits for, a deadlock. A new
# registration locks nothing anyone else holds before the event's row.
_REGISTRATION_OF = sa.select(Registration).where(
    Registration.event_id == sa.bindparam("event_id"),
    Registration.contact_id == sa.bindparam("contact_id"))


def find_channel_id(event: Event, code: str | None) -> int | None:
    """The id of the event's channel with this tracking code (None if unknown)."""
    if not code:
        return None
    return db.session.scalar(_CHANNEL_ID, {"event_id": event.id, "code": code[:32]})


def find_referrer(event: Event, share_code: str | None) -> int | None:
    """The contact id of the attendee whose personal share link this is (None if unknown)."""
    if not share_code:
        return None
    return db.session.scalar(_REFERRER_ID, {"event_id": event.id,
                                            "share_code": share_code[:16]})


def _free_places(event: Event) -> int | None:
    """The event's limit, as committed now, less its confirmed places (those of this
    transaction included: the database counts them, see Event.confirmed_places); None
    without a limit. One row read, however many people booked. The event's row is locked
    first, until commit (PostgreSQL, FOR NO KEY UPDATE: see `lock_row`; a confirmed
    registration this transaction wrote has locked it already, its count being kept there;
    SQLite's writer holds the whole database anyway), so two bookings cannot both take the
    last place, and a limit a marketer changed while this waited for the lock is the one
    that counts."""
    if event.capacity is None:
        return None
    locked = lock_row(Event, event.id, Event.capacity, Event.confirmed_places)
    if locked is None or locked.capacity is None:
        return None
    return locked.capacity - locked.confirmed_places


def _has_free_place(event: Event) -> bool:
    """Whether one more confirmed place fits."""
    free = _free_places(event)
    return free is None or free > 0


def _keep_the_place(event: Event, registration: Registration,
                    messages: list[OutboxMessage]) -> None:
    """The last step of a new booking, written as confirmed with its ticket messages queued:
    if the event is over capacity with it, it goes to the waiting list and its messages say
    so. Bookings of one event take turns from their registration's INSERT (whose count,
    kept on the event's row, locks that row until commit) to their commit: a few short
    statements. The count is read after the lock is granted, so it includes every booking
    committed before."""
    if registration.status != RegistrationStatus.CONFIRMED:
        return
    free = _free_places(event)  # this booking's own place is counted already
    if free is None or free >= 0:
        return
    registration.status = RegistrationStatus.WAITLISTED
    for message in messages:
        message.kind = "waitlisted"
        message.dedupe_key = _message_key(registration, "waitlisted", message.medium)


def book(event: Event, request: BookingRequest) -> BookingResult:
    """Book a place for the person of `request` at `event`: validated, matched into the pool,
    confirmed or waitlisted, with a signed ticket, its messages queued and the booking logged.
    Booking again (same mobile or e-mail) returns the existing registration. Runs in the
    caller's transaction (in a `@reads_first` view on SQLite: its reads end the caller's read
    transaction, see `start_writing`, and the writes run in a write transaction of their
    own); raises ValidationFailed or BookingClosed."""
    if not (booking_open(event) or (request.walk_in and event.status != EventStatus.DRAFT)):
        raise BookingClosed()
    spec = BookingFormSpec.from_json(event.booking_form)
    person, answers, errors = read_answers(spec, request.form)
    if not request.consent:
        errors["consent"] = [str(_l("Please agree to the privacy notice to book."))]
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), **errors)
    person.locale = request.locale
    channel_id = request.channel_id or find_channel_id(event, request.channel_code)
    referrer_id = find_referrer(event, request.share_code)
    source = f"{request.source}:{event.slug}"
    consent = f"booking:{event.slug}"
    contact = find_contact(person.phone, person.email)
    existing = None if contact is None else db.session.scalar(
        _REGISTRATION_OF, {"event_id": event.id, "contact_id": contact.id})
    start_writing(db.session)  # the reads are done: from here on, one write transaction
    if contact is not None:
        # Read before the write lock: another booking of this person may have changed the
        # rows since (a double tap rebooking a cancelled place). Read them again, under the
        # lock (SQLite) or with the registration's row locked (PostgreSQL).
        db.session.refresh(contact)
        if existing is not None:
            lock_row(Event, event.id)  # before the registration: see 'Lock order'
            db.session.refresh(existing, with_for_update=True)
    if existing is not None:
        return _book_again(event, existing, contact, request, person, answers)
    if contact is None:
        contact = new_contact(person, source=source, consent_text=consent)
        insert_now(contact)
        known_person = True
    else:
        # Someone already in the pool (an import, an earlier event): whoever typed these
        # details may not be that person, so the ticket goes to the addresses on file.
        update_contact(contact, person, source=source, consent_text=consent, trusted=False)
        known_person = False
    registration = Registration(
        event_id=event.id, contact_id=contact.id, channel_id=channel_id,
        referrer_id=referrer_id if referrer_id != contact.id else None,
        status=RegistrationStatus.CONFIRMED,  # unless over capacity: `_keep_the_place`
        answers=answers, ticket_token=new_ticket_token(), share_code=new_share_code(),
        visitor_id=request.visitor_id, booking_key=request.booking_key)
    issue_ticket(event, registration)
    insert_now(registration)
    set_committed_value(registration, "event", event)
    set_committed_value(registration, "contact", contact)
    result = _booked(registration, contact, request, same_person=known_person)
    if not request.walk_in:  # staff take walk-ins beyond capacity
        _keep_the_place(event, registration, result.messages)
    return result


def book_and_commit(event: Event, request: BookingRequest) -> BookingResult:
    """`book` in a transaction of its own, committed. Two simultaneous bookings of the same
    new person (a double tap) clash on a unique key: the loser is rolled back
    and booked once more, which then finds the winner's contact and registration. On a
    domain error the transaction is rolled back and the error raised."""
    for attempt in (1, 2):
        try:
            result = book(event, request)
            db.session.commit()
            return result
        except DomainError:
            db.session.rollback()
            raise
        except IntegrityError as error:
            db.session.rollback()
            if attempt == 2 or not is_unique_violation(error):
                raise
    raise AssertionError("unreachable")


def _book_again(event: Event, registration: Registration, contact: Contact,
                request: BookingRequest, person: PersonDetails,
                answers: dict[str, Any]) -> BookingResult:
    """A person who already has a registration books again. Only the same browser or form
    (booking key, visitor id) is trusted to be that person: it sees the ticket and may update
    the contact; anyone else gets nothing shown and the ticket goes to the addresses on file.
    An active registration is kept as it is; a cancelled one is booked anew with a new ticket
    and a new page address (the old QR code and link stop working)."""
    set_committed_value(registration, "event", event)
    set_committed_value(registration, "contact", contact)
    same = bool((request.booking_key and request.booking_key == registration.booking_key) or
                (request.visitor_id and request.visitor_id == registration.visitor_id))
    update_contact(contact, person, source=f"{request.source}:{event.slug}",
                   consent_text=f"booking:{event.slug}" if same else None, trusted=same)
    if registration.status != RegistrationStatus.CANCELLED:
        if not same:  # someone typed this person's number: send the ticket to the person
            _queue_ticket_messages(registration, contact, "ticket_again",
                                   dedupe=f"again:{registration.id}:{utcnow():%Y%m%d%H}")
        return BookingResult(registration, created=False, same_person=same)
    registration.status = (RegistrationStatus.CONFIRMED
                           if request.walk_in or _has_free_place(event)
                           else RegistrationStatus.WAITLISTED)
    registration.cancelled_at = None
    registration.created_at = utcnow()  # back of the waiting list, like any new booking
    registration.answers = answers
    registration.booking_key, registration.visitor_id = request.booking_key, request.visitor_id
    registration.ticket_token = new_ticket_token()
    registration.channel_id = (find_channel_id(event, request.channel_code)
                               or registration.channel_id)
    issue_ticket(event, registration)
    return _booked(registration, contact, request, same_person=same)


def _booked(registration: Registration, contact: Contact, request: BookingRequest, *,
            same_person: bool) -> BookingResult:
    """What every new booking sends and logs: the ticket (or waiting-list) messages and the
    BOOKING activity with its channel and the browser that booked."""
    messages = _queue_ticket_messages(registration, contact, "ticket" if registration.status ==
                                      RegistrationStatus.CONFIRMED else "waitlisted")
    record_activity(ActivityKind.BOOKING, event_id=registration.event_id,
                    contact_id=contact.id, visitor_id=request.visitor_id,
                    channel_id=registration.channel_id,
                    reference=f"registration:{registration.id}")
    return BookingResult(registration, created=True, same_person=same_person,
                         messages=messages)


def _message_key(registration: Registration, kind: str, medium: Medium) -> str:
    return f"{kind}:{registration.id}:{registration.ticket_serial}:{medium.value}"


def _queue_ticket_messages(registration: Registration, contact: Contact, kind: str,
                           dedupe: str | None = None) -> list[OutboxMessage]:
    """The ticket by e-mail (QR inline) and by SMS (the ticket link), to whichever the person
    gave, in one INSERT. Transactional messages: sent even to people who opted out of
    marketing."""
    locale = contact.locale or current_app.config["DEFAULT_LOCALE"]
    wanted = {f"{dedupe}:{medium.value}" if dedupe else _message_key(registration, kind, medium):
              (medium, address) for medium, address in
              ((Medium.EMAIL, contact.email), (Medium.SMS, contact.phone)) if address}
    if dedupe and wanted:  # a resend already queued within its period is not queued twice
        for queued in db.session.scalars(sa.select(OutboxMessage.dedupe_key).where(
                OutboxMessage.dedupe_key.in_(list(wanted)))):
            wanted.pop(queued, None)
    messages = [new_message(medium=medium, kind=kind, recipient=address, locale=locale,
                            event_id=registration.event_id, contact_id=contact.id,
                            registration_id=registration.id, dedupe_key=dedupe_key)
                for dedupe_key, (medium, address) in wanted.items()]
    if messages:
        queue_messages(*messages)
    return messages


# --- tickets: finding, cancelling, the waiting list -----------------------------------------

def registration_by_token(token: str) -> Registration:
    """The registration whose ticket page this is, with its event and contact; NotFound."""
    if not token or len(token) > 32:
        raise NotFound()
    registration = db.session.scalar(
        sa.select(Registration).where(Registration.ticket_token == token)
        .options(sa.orm.joinedload(Registration.event), sa.orm.joinedload(Registration.contact)))
    if registration is None:
        raise NotFound()
    return registration


def cancel_registration(registration: Registration) -> list[Registration]:
    """Cancel the booking (its QR code stops working at the gate) and give a freed place to
    the longest-waiting person; returns the people promoted. Cancelling twice changes nothing."""
    if registration.status == RegistrationStatus.CANCELLED:
        return []
    lock_row(Event, registration.event_id)  # before the registration: see 'Lock order'
    db.session.refresh(registration, attribute_names=["status", "checked_in_at"],
                       with_for_update=True)
    if registration.status == RegistrationStatus.CANCELLED:  # cancelled meanwhile
        return []
    was_confirmed = registration.status == RegistrationStatus.CONFIRMED
    if registration.checked_in_at is not None:
        raise Conflict(_l("You have already checked in; the booking can no longer be "
                          "cancelled."))
    registration.status = RegistrationStatus.CANCELLED
    registration.cancelled_at = utcnow()
    record_activity(ActivityKind.CANCELLATION, event_id=registration.event_id,
                    contact_id=registration.contact_id, channel_id=registration.channel_id,
                    reference=f"registration:{registration.id}")
    db.session.flush()
    return promote_waitlisted(registration.event) if was_confirmed else []


def promote_waitlisted(event: Event) -> list[Registration]:
    """Confirm waiting-list registrations, longest-waiting first, while places are free; each
    promoted person is sent their ticket."""
    free = _free_places(event)
    if free is not None and free <= 0:
        return []
    query = (sa.select(Registration).where(Registration.event_id == event.id,
                                           Registration.status == RegistrationStatus.WAITLISTED)
             .order_by(Registration.created_at, Registration.id)
             .options(sa.orm.joinedload(Registration.contact)))
    if free is not None:
        query = query.limit(free)
    promoted = list(db.session.scalars(query))
    now = utcnow()
    for registration in promoted:
        registration.status = RegistrationStatus.CONFIRMED
        registration.promoted_at = now
        registration.event = event
        _queue_ticket_messages(registration, registration.contact, "promoted")
    return promoted
