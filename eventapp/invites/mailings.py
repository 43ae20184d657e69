"""Invitations to a segment of the pool: who is chosen, how many, the job that queues one
message each (in chunks, never twice), and the invitation message itself.

A segment is a set of filters over the pool (city, company, source, attended before, not yet
registered). Contacts who opted out, and contacts without the address the medium needs, are
always left out. Unsubscribing is in `eventapp.invites.unsubscribe`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from eventapp.auth.models import User
from eventapp.contacts.models import Contact
from eventapp.core.errors import NotFound, ValidationFailed
from eventapp.core.i18n import local_number
from eventapp.core.jobs import Job, JobProgress
from eventapp.core.outbox import (Medium, MessageSkipped, MessageStatus, OutboxMessage,
                                  RenderedMessage)
from eventapp.events.models import (Channel, ChannelKind, Event, Registration,
                                    RegistrationStatus)
from eventapp.extensions import db
from eventapp.invites.booking import booking_open
from eventapp.invites.links import invitation_url
from eventapp.invites.messages import event_time_range, renderer
from eventapp.invites.models import Mailing
from eventapp.invites.outbox_bulk import OutboxRow, queue_messages_once
from eventapp.invites.reminders import short_start
from eventapp.invites.unsubscribe import unsubscribe_url

INVITATION_KIND = "invitation"
#: Contacts queued per transaction: a short write lock, then progress is shown.
CHUNK_SIZE = 500
NOTE_MAX = 2000
ACTIVE_STATUSES = (RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED)
#: The channel kind that suits each medium (the default channel to credit).
MEDIUM_CHANNEL_KINDS = {Medium.EMAIL: ChannelKind.EMAIL, Medium.SMS: ChannelKind.SMS}


@dataclass(frozen=True)
class Segment:
    """Who of the pool an invitation goes to. Empty text filters match everyone."""

    city: str = ""
    company: str = ""
    source: str = ""
    #: Only people who checked in at another event.
    attended: bool = False
    #: Leave out people already registered for this event (a cancelled booking does not count).
    not_registered: bool = True

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Segment:
        data = data or {}
        return cls(city=str(data.get("city") or "").strip()[:80],
                   company=str(data.get("company") or "").strip()[:200],
                   source=str(data.get("source") or "").strip()[:200],
                   attended=bool(data.get("attended")),
                   not_registered=bool(data.get("not_registered", True)))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SegmentCount:
    """How many people a segment reaches, and how many matching people are left out."""

    recipients: int
    opted_out: int
    no_address: int

    @property
    def excluded(self) -> int:
        return self.opted_out + self.no_address


# --- the segment ----------------------------------------------------------------------------

def _address_column(medium: Medium) -> sa.orm.InstrumentedAttribute[str | None]:
    return Contact.email if medium == Medium.EMAIL else Contact.phone


def _sources_table() -> Any:
    """The elements of Contact.sources as a table with a `value` column (a JSON array: each
    database has its own function for that)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.json_array_elements_text(Contact.sources).table_valued("value")
    return sa.func.json_each(Contact.sources).table_valued("value")


def _filters(event: Event, segment: Segment) -> list[sa.ColumnElement[bool]]:
    """The segment's conditions on Contact (without the always-applied exclusions)."""
    conditions: list[sa.ColumnElement[bool]] = []
    if segment.city:
        conditions.append(sa.func.lower(Contact.city) == segment.city.lower())
    if segment.company:
        conditions.append(sa.func.lower(Contact.company).contains(segment.company.lower(),
                                                                  autoescape=True))
    if segment.source:
        sources = _sources_table()
        conditions.append(sa.exists(sa.select(1).select_from(sources)
                                    .where(sources.c.value == segment.source)))
    if segment.attended:
        conditions.append(sa.exists(sa.select(1).where(
            Registration.contact_id == Contact.id, Registration.event_id != event.id,
            Registration.checked_in_at.is_not(None))))
    if segment.not_registered:
        conditions.append(~sa.exists(sa.select(1).where(
            Registration.contact_id == Contact.id, Registration.event_id == event.id,
            Registration.status.in_(ACTIVE_STATUSES))))
    return conditions


def _reachable(medium: Medium) -> list[sa.ColumnElement[bool]]:
    """Always applied: not opted out, and has the address the medium needs."""
    return [Contact.opted_out_at.is_(None), _address_column(medium).is_not(None),
            _address_column(medium) != ""]


def count_segment(event: Event, segment: Segment, medium: Medium) -> SegmentCount:
    """How many contacts the segment reaches by `medium`, and how many matching ones are left
    out (opted out, or no address for the medium). One query."""
    address = _address_column(medium)
    no_address = sa.or_(address.is_(None), address == "")
    row = db.session.execute(
        sa.select(sa.func.count(),
                  sa.func.count().filter(Contact.opted_out_at.is_not(None)),
                  sa.func.count().filter(Contact.opted_out_at.is_(None), no_address))
        .select_from(Contact).where(*_filters(event, segment))).one()
    total, opted_out, without = row
    return SegmentCount(recipients=total - opted_out - without, opted_out=opted_out,
                        no_address=without)


def segment_contacts(event: Event, segment: Segment, medium: Medium, *, after_id: int = 0,
                     limit: int | None = None) -> list[tuple[int, str, str | None]]:
    """The next `limit` (default CHUNK_SIZE) reachable contacts of the segment with an id
    above `after_id`, in id order: (id, address, locale)."""
    address = _address_column(medium)
    query = (sa.select(Contact.id, address, Contact.locale)
             .where(*_filters(event, segment), *_reachable(medium), Contact.id > after_id)
             .order_by(Contact.id).limit(limit or CHUNK_SIZE))
    return [(row[0], row[1], row[2]) for row in db.session.execute(query)]


def source_choices(limit: int = 200) -> list[str]:
    """The distinct sources of the pool's contacts ("booking:expo-2026", "import:list.xlsx"),
    for the segment's source filter."""
    sources = _sources_table()
    query = (sa.select(sources.c.value).select_from(Contact).join(sources, sa.true())
             .distinct().order_by(sources.c.value).limit(limit))
    return [value for value in db.session.scalars(query) if value]


# --- creating a mailing ---------------------------------------------------------------------

def default_channel(event: Event, medium: Medium) -> Channel | None:
    """The channel a mailing credits unless told otherwise: the event's first channel of the
    medium's kind, else its first e-mail or SMS channel."""
    channels = [c for c in event.channels if c.kind in MEDIUM_CHANNEL_KINDS.values()]
    same_kind = [c for c in channels if c.kind == MEDIUM_CHANNEL_KINDS[medium]]
    return (same_kind or channels or [None])[0]


def create_mailing(event: Event, *, medium: Medium, segment: Segment, channel_id: int | None,
                   note: str, user: User | None) -> Mailing:
    """A new mailing of the event to `segment` (not yet queued: start its job after commit).
    Raises ValidationFailed when booking is closed, for a channel of another event, a long
    note, or nobody to reach."""
    if not booking_open(event):
        raise ValidationFailed(_l("Booking for this event is closed, so an invitation would "
                                  "lead nowhere. Publish the event or move its booking "
                                  "deadline first."))
    errors: dict[str, list[str]] = {}
    if channel_id is not None and not any(c.id == channel_id for c in event.channels):
        errors["channel"] = [_("Choose one of this event's channels.")]
    if len(note) > NOTE_MAX:
        errors["note"] = [_("Keep the note under %(count)d characters.", count=NOTE_MAX)]
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), **errors)
    count = count_segment(event, segment, medium)
    if count.recipients == 0:
        raise ValidationFailed(_l("Nobody in this segment can receive the invitation. Widen "
                                  "the filters, or choose the other medium."))
    mailing = Mailing(event_id=event.id, channel_id=channel_id, medium=medium,
                      segment=segment.to_json(), note=note.strip(),
                      created_by_id=user.id if user else None, skipped=count.excluded)
    db.session.add(mailing)
    db.session.flush()
    return mailing


def attach_job(mailing: Mailing, job: Job) -> None:
    """Remember the job queueing the mailing (its progress bar on the page)."""
    mailing.job_id = job.id


# --- the job: one message per contact, in chunks --------------------------------------------

def _invitation_rows(mailing: Mailing, contacts: list[tuple[int, str, str | None]]
                     ) -> list[OutboxRow]:
    default_locale = current_app.config["DEFAULT_LOCALE"]
    return [OutboxRow(medium=mailing.medium, kind=INVITATION_KIND, recipient=address,
                      locale=locale or default_locale, event_id=mailing.event_id,
                      contact_id=contact_id, dedupe_key=f"invitation:{mailing.id}:{contact_id}",
                      payload={"mailing_id": mailing.id})
            for contact_id, address, locale in contacts]


def _chunks(mailing: Mailing, event: Event) -> Iterator[list[tuple[int, str, str | None]]]:
    segment, after = Segment.from_json(mailing.segment), 0
    while True:
        contacts = segment_contacts(event, segment, mailing.medium, after_id=after)
        if not contacts:
            return
        yield contacts
        after = contacts[-1][0]


def queue_invitations(progress: JobProgress, mailing_id: int) -> dict[str, int]:
    """Queue one invitation per reachable contact of the mailing's segment, CHUNK_SIZE per
    committed transaction, reporting progress. Safe to run again (a worker died): a contact
    already queued for this mailing is never queued twice. Returns the counts."""
    mailing = db.session.get(Mailing, mailing_id)
    if mailing is None:
        raise NotFound()
    event = db.session.get(Event, mailing.event_id)
    total = count_segment(event, Segment.from_json(mailing.segment), mailing.medium).recipients
    done = new = 0
    with force_locale(progress.locale() or current_app.config["DEFAULT_LOCALE"]):
        progress.update(0, total, message=_("Choosing the recipients…"), force=True)
        for contacts in _chunks(mailing, event):
            new += len(queue_messages_once(_invitation_rows(mailing, contacts)))
            done += len(contacts)
            total = max(total, done)  # people who joined the segment meanwhile
            db.session.commit()  # the chunk is safe; the sender may start on it
            progress.update(done, total, message=_(
                "%(done)s of %(total)s invitations queued", done=local_number(done),
                total=local_number(total)))
        mailing.queued = _queued_count(mailing)
        db.session.commit()
        progress.update(done, total, force=True, message=ngettext(
            "%(num)s invitation queued", "%(num)s invitations queued", mailing.queued))
    return {"queued": mailing.queued, "new": new, "excluded": mailing.skipped}


def _queued_count(mailing: Mailing) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.event_id == mailing.event_id, OutboxMessage.kind == INVITATION_KIND,
        OutboxMessage.payload["mailing_id"].as_integer() == mailing.id)) or 0


# --- the list of mailings -------------------------------------------------------------------

@dataclass
class MailingSummary:
    """A past mailing with what became of its messages."""

    mailing: Mailing
    channel: Channel | None
    job: Job | None
    author: User | None
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def mailings_of(event: Event, limit: int = 50) -> list[MailingSummary]:
    """The event's mailings, newest first, each with its messages counted by status (queued,
    sent, failed, skipped: one grouped query) and its job."""
    rows = db.session.execute(
        sa.select(Mailing, Channel, Job, User).where(Mailing.event_id == event.id)
        .outerjoin(Channel, Channel.id == Mailing.channel_id)
        .outerjoin(Job, Job.id == Mailing.job_id)
        .outerjoin(User, User.id == Mailing.created_by_id)
        .order_by(Mailing.created_at.desc(), Mailing.id.desc()).limit(limit)).all()
    mailing_ref = OutboxMessage.payload["mailing_id"].as_integer()
    counts: dict[int, dict[str, int]] = {row[0].id: {s.value: 0 for s in MessageStatus}
                                         for row in rows}
    for mailing_id, status, count in db.session.execute(
            sa.select(mailing_ref, OutboxMessage.status, sa.func.count())
            .where(OutboxMessage.event_id == event.id, OutboxMessage.kind == INVITATION_KIND)
            .group_by(mailing_ref, OutboxMessage.status)):
        if mailing_id in counts:
            counts[mailing_id][MessageStatus(status).value] = count
    return [MailingSummary(mailing, channel, job, author, counts[mailing.id])
            for mailing, channel, job, author in rows]


# --- the message ----------------------------------------------------------------------------

def _invitation_subjects(message: OutboxMessage) -> tuple[Mailing, Event, Channel | None]:
    """The mailing, event and channel of an invitation, as they are now; MessageSkipped when
    it must not go out any more (booking closed, the person already booked, data erased)."""
    mailing = db.session.get(Mailing, (message.payload or {}).get("mailing_id") or 0)
    if mailing is None or message.contact_id is None:
        raise MessageSkipped("the mailing or the contact no longer exists")
    event = db.session.get(Event, mailing.event_id)
    if event is None or not booking_open(event):
        raise MessageSkipped("booking for the event is closed")
    booked = db.session.scalar(sa.select(Registration.id).where(
        Registration.event_id == event.id, Registration.contact_id == message.contact_id,
        Registration.status.in_(ACTIVE_STATUSES)))
    if booked is not None:
        raise MessageSkipped("the person has booked meanwhile")
    channel = db.session.get(Channel, mailing.channel_id) if mailing.channel_id else None
    return mailing, event, channel


@renderer(INVITATION_KIND, marketing=True)
def render_invitation(message: OutboxMessage) -> RenderedMessage:
    """The invitation: the event, the organiser's note, a big "Book your place" link crediting
    the mailing's channel, and the unsubscribe link (also as List-Unsubscribe headers)."""
    mailing, event, channel = _invitation_subjects(message)
    contact = db.session.get(Contact, message.contact_id)
    leave_url = unsubscribe_url(message.contact_id or 0)
    context = {
        "event": event, "contact": contact, "note": mailing.note,
        "when": event_time_range(event),
        "when_short": short_start(event),
        "book_url": invitation_url(event, channel_code=channel.code if channel else None,
                                   message_id=message.id),
        "unsubscribe_url": leave_url, "with_gift": False,
        "map_url": event.map_url if event.map_url.lower().startswith(("https://", "http://"))
        else "",
    }
    subject = _("Invitation: %(title)s, %(when)s", title=event.title,
                when=context["when_short"])
    context["subject"] = subject
    if message.medium == Medium.SMS:
        text = render_template("messages/invitation.sms.txt", **context)
        return RenderedMessage(subject=subject, text=" ".join(text.split()))
    return RenderedMessage(
        subject=subject,
        text=render_template("messages/invitation.txt", **context).strip() + "\n",
        html=render_template("messages/invitation.html", **context),
        headers={"List-Unsubscribe": f"<{leave_url}>",
                 "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
