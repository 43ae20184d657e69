"""What the attendee pages need beyond booking: opening an invitation (the event, the channel,
the referrer and the places taken, in one query), counting visits, ticket views and message
clicks in the behaviour log, the countdown, and addresses shown half-hidden."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.orm import aliased

from eventapp.auth.models import User
from eventapp.core.activity import ActivityKind, record_activity
from eventapp.core.errors import NotFound
from eventapp.core.outbox import OutboxMessage
from eventapp.core.time import in_zone, utcnow
from eventapp.events.models import (Channel, Event, EventStatus, Membership, Registration,
                                    RegistrationStatus)
from eventapp.extensions import db


@dataclass
class Invitation:
    """An invitation page as one visitor opens it."""

    event: Event
    #: The channel of the link's ?c= code (None: unknown code or none: a direct visit).
    channel_id: int | None
    #: The contact whose personal share link (?r=) this is.
    referrer_id: int | None
    #: Confirmed places taken (None when the event has no limit).
    confirmed: int | None

    @property
    def places_left(self) -> int | None:
        if self.event.capacity is None or self.confirmed is None:
            return None
        return max(self.event.capacity - self.confirmed, 0)

    @property
    def full(self) -> bool:
        return self.places_left == 0


def open_invitation(slug: str, channel_code: str | None = None,
                    share_code: str | None = None) -> Invitation:
    """The event of `slug` with the channel and referrer its link names and the places taken,
    in one query; raises NotFound. Whether a draft may be shown is the caller's decision."""
    channel_match = (sa.and_(Channel.event_id == Event.id, Channel.code == channel_code[:32])
                     if channel_code else sa.false())
    referrer = aliased(Registration)
    referrer_match = (sa.and_(referrer.event_id == Event.id,
                              referrer.share_code == share_code[:16])
                      if share_code else sa.false())
    row = db.session.execute(
        sa.select(Event, Channel.id, referrer.contact_id,
                  sa.case((Event.capacity.is_(None), sa.null()), else_=Event.confirmed_places))
        .select_from(Event).outerjoin(Channel, channel_match)
        .outerjoin(referrer, referrer_match)
        .where(Event.slug == slug).limit(1)).first()
    if row is None:
        raise NotFound()
    event, channel_id, referrer_id, taken_places = row
    return Invitation(event=event, channel_id=channel_id, referrer_id=referrer_id,
                      confirmed=taken_places)


def is_public(event: Event) -> bool:
    """Whether anyone may open the event's attendee pages (published or closed; a draft is
    for its team only)."""
    return event.status != EventStatus.DRAFT


def is_on_team(user: User | None, event: Event) -> bool:
    """Whether a signed-in user may preview the event's attendee pages (admins, any role)."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_admin:
        return True
    return db.session.scalar(sa.select(Membership.id).where(
        Membership.event_id == event.id, Membership.user_id == user.id)) is not None


def record_invitation_view(invitation: Invitation, visitor_id: str,
                           contact_id: int | None = None) -> None:
    """One visit of the invitation page by an anonymous browser, credited to its channel
    (unique visitors per channel are counted from these)."""
    record_activity(ActivityKind.INVITE_VIEW, event_id=invitation.event.id,
                    visitor_id=visitor_id, contact_id=contact_id,
                    channel_id=invitation.channel_id,
                    reference=(f"referrer:{invitation.referrer_id}"
                               if invitation.referrer_id else None))


def record_message_click(event: Event, message_id: int, *, visitor_id: str | None,
                         channel_id: int | None) -> int | None:
    """A person followed a link of outbox message `message_id` (a signed ?m=): logged for the
    message's contact; returns that contact's id (None if the message is unknown)."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None or (message.contact_id is None and visitor_id is None):
        return None
    record_activity(ActivityKind.MESSAGE_CLICK, event_id=message.event_id or event.id,
                    contact_id=message.contact_id, visitor_id=visitor_id,
                    channel_id=channel_id, reference=f"message:{message.id}")
    return message.contact_id


def record_ticket_view(registration: Registration, visitor_id: str | None) -> None:
    """The attendee opened their ticket page."""
    record_activity(ActivityKind.TICKET_VIEW, event_id=registration.event_id,
                    contact_id=registration.contact_id, visitor_id=visitor_id,
                    channel_id=registration.channel_id,
                    reference=f"registration:{registration.id}")


def waitlist_position(registration: Registration) -> int | None:
    """The registration's place in the waiting-list queue (1: next to get a place)."""
    if registration.status != RegistrationStatus.WAITLISTED:
        return None
    ahead = db.session.scalar(sa.select(sa.func.count()).select_from(Registration).where(
        Registration.event_id == registration.event_id,
        Registration.status == RegistrationStatus.WAITLISTED,
        sa.or_(Registration.created_at < registration.created_at,
               sa.and_(Registration.created_at == registration.created_at,
                       Registration.id < registration.id))))
    return (ahead or 0) + 1


# --- the countdown ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Countdown:
    """How far away the event is: `state` is upcoming, today, started or ended; `days` counts
    calendar days in the event's timezone; `seconds` is the time left to the start."""

    state: str
    days: int
    seconds: int


def countdown(event: Event, now: datetime | None = None) -> Countdown:
    """The countdown the invitation shows (the browser keeps it ticking)."""
    now = now or utcnow()
    seconds = max(int((event.starts_at - now).total_seconds()), 0)
    if now >= event.ends_at:
        return Countdown("ended", 0, 0)
    if now >= event.starts_at:
        return Countdown("started", 0, 0)
    days = (in_zone(event.starts_at, event.timezone).date()
            - in_zone(now, event.timezone).date()).days
    return Countdown("today" if days <= 0 else "upcoming", max(days, 0), seconds)


# --- addresses shown half-hidden ----------------------------------------------------------

def mask_email(address: str | None) -> str:
    """zhang.wei@example.com → zh•••@example.com: enough for the owner to recognise it."""
    if not address or "@" not in address:
        return ""
    local, domain = address.rsplit("@", 1)
    return f"{local[:2] if len(local) > 3 else local[:1]}•••@{domain}"


def mask_phone(e164: str | None) -> str:
    """+8613812345678 → +86 138 •••• 5678."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return "•••• " + e164[-4:]
    national = str(number.national_number)
    head = national[:3] if len(national) > 8 else national[:1]
    return f"+{number.country_code} {head} •••• {national[-4:]}"
