"""The behaviour log: one append-only table that every feature writes and scoring and reports read.

A feature records what a person did with `record_activity(...)`; it never reaches into another
feature's tables to find behaviour. Subscribers (scoring, live dashboards) listen to the
`activity_recorded` signal instead of being imported by the features that record.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from blinker import Namespace
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from eventapp.core.models import Base, BigId
from eventapp.core.time import utcnow
from eventapp.extensions import db

signals = Namespace()
#: Sent with the new Activity as sender (its row inserted, its id not read back), inside the
#: recording transaction.
activity_recorded = signals.signal("activity-recorded")


class ActivityKind(StrEnum):
    """The vocabulary of behaviour. Stored as text, so a new kind needs no migration."""

    INVITE_VIEW = "invite_view"
    BOOKING = "booking"
    CANCELLATION = "cancellation"
    TICKET_VIEW = "ticket_view"
    MESSAGE_CLICK = "message_click"
    CHECKIN = "checkin"
    #: A supervisor undid a mistaken check-in (or gift): scoring nets it against the CHECKIN.
    CHECKIN_UNDONE = "checkin_undone"
    GIFT = "gift"
    BOOTH_VISIT = "booth_visit"
    BOOTH_SCAN = "booth_scan"
    SURVEY_ANSWER = "survey_answer"


ACTIVITY_LABELS = {
    ActivityKind.INVITE_VIEW: _l("Opened the invitation"),
    ActivityKind.BOOKING: _l("Booked a place"),
    ActivityKind.CANCELLATION: _l("Cancelled the booking"),
    ActivityKind.TICKET_VIEW: _l("Viewed the ticket"),
    ActivityKind.MESSAGE_CLICK: _l("Clicked a message link"),
    ActivityKind.CHECKIN: _l("Checked in"),
    ActivityKind.CHECKIN_UNDONE: _l("Check-in undone"),
    ActivityKind.GIFT: _l("Received the booking gift"),
    ActivityKind.BOOTH_VISIT: _l("Visited the virtual booth"),
    ActivityKind.BOOTH_SCAN: _l("Scanned at a booth"),
    ActivityKind.SURVEY_ANSWER: _l("Answered the survey"),
}


def activity_label(kind: str) -> Any:
    """What a person did, in the reader's language (the kind itself if it is unknown)."""
    try:
        return ACTIVITY_LABELS[ActivityKind(kind)]
    except ValueError:
        return kind


class Activity(Base):
    __tablename__ = "activities"
    __table_args__ = (
        sa.Index("ix_activities_event_kind_time", "event_id", "kind", "occurred_at"),
        # Unique visitors per event and channel are counted from this index alone.
        sa.Index("ix_activities_event_kind_visitor", "event_id", "kind", "visitor_id"),
        sa.Index("ix_activities_contact_time", "contact_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"))
    #: SET NULL: when a person's data is erased, their behaviour stays as anonymous history,
    #: so past funnels and reports do not change.
    contact_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL"))
    #: Anonymous browser id, for behaviour before a person is known (invitation visits).
    visitor_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    channel_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("channels.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    #: What the behaviour was about, as "<thing>:<id>" (e.g. "registration:42").
    reference: Mapped[str | None] = mapped_column(sa.String(120))
    #: A measure of the behaviour where it has one (seconds watched, amount won, rating).
    value: Mapped[Decimal | None]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Activity {self.kind} contact={self.contact_id} event={self.event_id}>"


def record_activity(kind: ActivityKind, **fields: Any) -> None:
    """Add one behaviour to the log in the caller's transaction (it commits or rolls back with
    it); `fields` as `activity_values` takes them."""
    insert_activity(activity_values(kind, **fields))


def insert_activity(values: dict[str, Any]) -> None:
    """Insert a row `activity_values` made, and tell subscribers of it."""
    # One Core INSERT, now: behaviour is recorded on hot paths (a check-in, a page view), and
    # the row needs nothing the unit of work does (no relationships, no id read back).
    db.session.execute(_INSERT, values)
    announce_activity(values)


def activity_values(
    kind: ActivityKind,
    *,
    event_id: int | None,
    contact_id: int | None = None,
    visitor_id: str | None = None,
    channel_id: int | None = None,
    reference: str | None = None,
    value: Decimal | int | None = None,
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    """The row `record_activity` inserts, checked: for a hot path that inserts it inside a
    statement of its own (`activity_insert_from`) and then calls `announce_activity`."""
    if contact_id is None and visitor_id is None:
        raise ValueError("an activity belongs to a contact or to an anonymous visitor")
    return {"kind": str(kind), "event_id": event_id, "contact_id": contact_id,
            "visitor_id": visitor_id, "channel_id": channel_id, "reference": reference,
            "value": Decimal(value) if value is not None else None,
            "occurred_at": occurred_at or utcnow()}


def activity_insert_from(rows: sa.Select[Any]) -> sa.Insert:
    """The INSERT of the activities `rows` selects (labelled by column name, as
    `activity_values` names them): to fold recording into a larger statement, such as a
    data-modifying CTE on PostgreSQL. Announce each row inserted with `announce_activity`."""
    names = [column.name for column in rows.selected_columns]
    return sa.insert(Activity.__table__).from_select(names, rows)


def announce_activity(values: dict[str, Any]) -> None:
    """Tell subscribers of an activity row just inserted in the caller's transaction: the
    signal's sender is an Activity of it, not in the session. It is made only if someone
    listens (every check-in calls this, and making an ORM object is not free)."""
    if activity_recorded.receivers:
        activity_recorded.send(Activity(**values))


_INSERT = sa.insert(Activity.__table__)
