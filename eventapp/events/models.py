"""Events and what hangs directly off them: the team, the channels and the registrations."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eventapp.auth.models import User
from eventapp.contacts.models import Contact
from eventapp.core.models import Base, CreatedMixin, IdMixin, TimestampMixin, enum_column


class EventStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"


class EventRole(StrEnum):
    """A person's role on one event's team (admins are above all events)."""

    MARKETER = "marketer"
    #: A steward at the gate: scans tickets, nothing more.
    STAFF = "staff"
    #: A gate supervisor: scans, and also searches, checks in by hand, undoes and sees totals.
    SUPERVISOR = "supervisor"
    SALES = "sales"


class ChannelKind(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WECHAT = "wechat"
    POSTER = "poster"
    PARTNER = "partner"
    ADS = "ads"
    OTHER = "other"


class RegistrationStatus(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class Event(IdMixin, TimestampMixin, Base):
    __tablename__ = "events"

    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    #: IANA name; times are stored in UTC and shown in this zone.
    timezone: Mapped[str] = mapped_column(sa.String(64))
    venue: Mapped[str] = mapped_column(sa.String(200), default="")
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    transport_notes: Mapped[str] = mapped_column(sa.Text, default="")
    #: None: no limit.
    capacity: Mapped[int | None]
    #: Its confirmed registrations, counted by the database: triggers on registrations keep
    #: it right (migration 0004), the app never writes it. Not loaded with the event (it
    #: would be stale by the next booking); the capacity check reads it with its lock.
    confirmed_places: Mapped[int] = mapped_column(default=0, server_default="0",
                                                  deferred=True)
    status: Mapped[EventStatus] = mapped_column(enum_column(EventStatus, "event_status"),
                                                default=EventStatus.DRAFT)
    #: Currency of the channels' spend (ISO 4217).
    currency: Mapped[str] = mapped_column(sa.String(3))

    # --- what the invitation page shows (set up by marketing) ---
    #: File name of the cover image under the instance's uploads/covers folder.
    cover_image: Mapped[str | None] = mapped_column(sa.String(120))
    #: The programme, in order: [{"time": "09:30", "title": "...", "speaker": "..."}].
    agenda: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    map_url: Mapped[str] = mapped_column(sa.String(500), default="")
    #: Venue coordinates, for the weather in the day-before reminder.
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    #: What the organiser says about the weather when no forecast service is configured.
    weather_note: Mapped[str] = mapped_column(sa.Text, default="")
    #: Bookings close at this moment (None: when the event starts).
    booking_deadline: Mapped[datetime | None]
    #: The booking gift handed out at the venue ("" : none).
    gift: Mapped[str] = mapped_column(sa.String(200), default="")
    #: Shown beside the consent box of the booking form ("": the standard text).
    privacy_text: Mapped[str] = mapped_column(sa.Text, default="")
    #: The booking-form builder's result; see eventapp.invites.forms.BookingFormSpec.
    booking_form: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    # --- what the ticket page shows on site, once the attendee has checked in ---
    #: File name of the floor plan image under the instance's uploads/covers folder.
    floor_plan_image: Mapped[str | None] = mapped_column(sa.String(120))
    #: Help on site: {"faq": [{"q": "...", "a": "..."}], "contact": "...", "phone": "..."}.
    venue_help: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    # --- ticket signing ---
    #: Ed25519 public key (32 raw bytes): verifies tickets, offline too.
    ticket_public_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32))
    #: The matching private key, encrypted with a key derived from SECRET_KEY.
    ticket_private_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary(200))

    memberships = relationship("Membership", back_populates="event",
                               cascade="all, delete-orphan", passive_deletes=True)
    channels = relationship("Channel", back_populates="event", cascade="all, delete-orphan",
                            passive_deletes=True, order_by="Channel.id")

    def __repr__(self) -> str:
        return f"<Event {self.slug}>"


class Membership(IdMixin, CreatedMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (sa.UniqueConstraint("event_id", "user_id"),)

    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    role: Mapped[EventRole] = mapped_column(enum_column(EventRole, "event_role"))

    event: Mapped[Event] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")


class Channel(IdMixin, CreatedMixin, Base):
    """Where invitations go out: each has a tracking code that links visits and bookings to it."""

    __tablename__ = "channels"
    __table_args__ = (sa.UniqueConstraint("event_id", "code"),)

    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[ChannelKind] = mapped_column(enum_column(ChannelKind, "channel_kind"))
    #: Short, URL-safe, unique within the event: /e/<slug>?c=<code>
    code: Mapped[str] = mapped_column(sa.String(32))
    spend: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))

    event: Mapped[Event] = relationship(back_populates="channels")


class Registration(IdMixin, CreatedMixin, Base):
    """A contact's place at an event. One per contact and event: booking again finds it."""

    __tablename__ = "registrations"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "contact_id"),
        sa.Index("ix_registrations_event_status", "event_id", "status"),
        sa.UniqueConstraint("event_id", "ticket_serial"),
    )

    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"),
                                            index=True)
    channel_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("channels.id", ondelete="SET NULL"), index=True)
    #: The attendee whose personal share link brought this person.
    referrer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL"))
    status: Mapped[RegistrationStatus] = mapped_column(
        enum_column(RegistrationStatus, "registration_status"), default=RegistrationStatus.CONFIRMED)
    #: Answers to the event's custom booking questions, by question key.
    answers: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    cancelled_at: Mapped[datetime | None]
    #: First entry at the venue; set once, atomically, by check-in.
    checked_in_at: Mapped[datetime | None]
    #: When a waiting-list place became a confirmed one.
    promoted_at: Mapped[datetime | None]
    #: When the booking gift was handed out (once; the gift scan has the details).
    gift_given_at: Mapped[datetime | None]

    # --- the ticket ---
    #: Random, unique within the event: what the signed QR payload names (a re-issued ticket
    #: gets a new serial, so the old QR code stops working).
    ticket_serial: Mapped[int] = mapped_column(sa.BigInteger)
    #: The signed QR payload (base32), made at booking; None only for tickets issued before
    #: their event had a key (signed on first use).
    ticket_code: Mapped[str | None] = mapped_column(sa.String(130))
    #: Secret part of the attendee's ticket page address: /t/<ticket_token>.
    ticket_token: Mapped[str] = mapped_column(sa.String(32), unique=True)
    #: Public code of the attendee's personal share link: /e/<slug>?r=<share_code>.
    share_code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    #: The anonymous browser that booked (links its earlier invitation visits to the person).
    visitor_id: Mapped[str | None] = mapped_column(sa.String(36))
    #: The booking form's one-time key: a double-tapped submit finds this registration again.
    booking_key: Mapped[str | None] = mapped_column(sa.String(36))

    event: Mapped[Event] = relationship()
    contact: Mapped[Contact] = relationship(foreign_keys=[contact_id])
    channel: Mapped[Channel | None] = relationship()
    referrer: Mapped[Contact | None] = relationship(foreign_keys=[referrer_id])
