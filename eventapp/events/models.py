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
    STAFF = "staff"
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
    status: Mapped[EventStatus] = mapped_column(enum_column(EventStatus, "event_status"),
                                                default=EventStatus.DRAFT)
    #: Currency of the channels' spend (ISO 4217).
    currency: Mapped[str] = mapped_column(sa.String(3))

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

    event: Mapped[Event] = relationship()
    contact: Mapped[Contact] = relationship(foreign_keys=[contact_id])
    channel: Mapped[Channel | None] = relationship()
    referrer: Mapped[Contact | None] = relationship(foreign_keys=[referrer_id])
