"""Tables of on-site check-in: the event's check-in points and every scan made at them.

The `scans` table is the audit log of the gate: every scan is stored with its result, point,
device and staff member, valid or not, online or synced later; an undo is a scan of its own
that names the scan it undoes. What may happen only once is guarded by one partial unique
index: a registration has at most one standing valid scan per *scope*:

- `venue`: any entrance point (a person arrives at the venue once, whichever gate);
- `gift`: the booking gift, handed out once, at any gift desk or from an entrance screen;
- `point:<id>`: every other point (a session room, a booth) counts each person once.

Two gates scanning one ticket at the same instant both try to insert the valid scan; the index
lets exactly one through (`INSERT ... ON CONFLICT DO NOTHING`, on SQLite and PostgreSQL).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from eventapp.core.models import Base, BigId, CreatedMixin, IdMixin, enum_column
from eventapp.core.time import utcnow


class PointKind(StrEnum):
    ENTRANCE = "entrance"  # a gate of the venue: entries count towards arrivals
    SESSION = "session"  # a room or stage inside
    GIFT_DESK = "gift_desk"  # where the booking gift is handed out
    BOOTH = "booth"  # an exhibitor's stand (booth lead scans)


class Direction(StrEnum):
    IN = "in"
    OUT = "out"  # the tablet's exit mode: occupancy = entries - exits


class ScanResult(StrEnum):
    """What the gate shows for a scan. The first four let the person through."""

    VALID = "valid"  # first entry in its scope (or the gift handed out)
    REENTRY = "reentry"  # back in after an exit scan
    EXIT = "exit"  # an exit scan
    UNDO = "undo"  # a supervisor undid a mistaken scan (names it in `undoes_scan_id`)
    ALREADY_USED = "already_used"  # the scope's valid scan exists: when, where, by whom
    CANCELLED = "cancelled"  # the booking was cancelled
    WAITLISTED = "waitlisted"  # a waiting-list place, not confirmed
    UNKNOWN = "unknown"  # genuine signature, but no such ticket (re-issued, or erased)
    FORGED = "forged"  # the signature does not match
    OTHER_EVENT = "other_event"  # a genuine ticket of another event
    MALFORMED = "malformed"  # not a ticket code at all


#: Results that let the person through (green on the tablet).
ADMITTED = frozenset({ScanResult.VALID, ScanResult.REENTRY, ScanResult.EXIT})
#: Results that are about the ticket itself, decided without the registration.
INVALID_CODE = frozenset({ScanResult.FORGED, ScanResult.OTHER_EVENT, ScanResult.MALFORMED})


class CheckinPoint(IdMixin, CreatedMixin, Base):
    """A place where tickets are scanned: an entrance gate, a session room, a gift desk, a
    booth. Points with scans are deactivated, never deleted (the audit log names them)."""

    __tablename__ = "checkin_points"
    __table_args__ = (sa.UniqueConstraint("event_id", "name"),)

    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"),
                                          index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[PointKind] = mapped_column(enum_column(PointKind, "point_kind"))
    #: The hall the point belongs to: live occupancy is counted per hall.
    hall: Mapped[str] = mapped_column(sa.String(80), default="")
    #: Where to find it ("North gate", "Stand A12"): shown to attendees on site.
    location: Mapped[str] = mapped_column(sa.String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)

    def scope(self) -> str:
        """What a valid scan here may happen once per registration for (see the module)."""
        if self.kind == PointKind.ENTRANCE:
            return "venue"
        if self.kind == PointKind.GIFT_DESK:
            return "gift"
        return f"point:{self.id}"


class Scan(Base):
    """One scan at a check-in point, as recorded (append-only but for `undone_at`)."""

    __tablename__ = "scans"
    __table_args__ = (
        # A device's scan id: a retried or re-synced scan is found, never stored twice.
        sa.UniqueConstraint("event_id", "client_scan_id"),
        # The once-only rule (see the module). Undone scans step aside.
        sa.Index("uq_scans_standing_valid", "registration_id", "scope", unique=True,
                 sqlite_where=sa.text("result = 'valid' AND undone_at IS NULL"),
                 postgresql_where=sa.text("result = 'valid' AND undone_at IS NULL")),
        # A person's scans in a scope, in order: "already used: when, where, by whom" and
        # "went out since?" on every repeat scan (and ON DELETE SET NULL of a registration).
        sa.Index("ix_scans_registration_scope", "registration_id", "scope", "id"),
        sa.Index("ix_scans_event_time", "event_id", "recorded_at"),
        sa.Index("ix_scans_point_result", "point_id", "result"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"))
    point_id: Mapped[int] = mapped_column(sa.ForeignKey("checkin_points.id",
                                                        ondelete="CASCADE"))
    #: SET NULL: an erased person's scans stay as anonymous counts.
    registration_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("registrations.id", ondelete="SET NULL"))
    staff_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: The tablet's own id (kept in its storage), shown in the audit log.
    device_id: Mapped[str] = mapped_column(sa.String(64), default="")
    #: The tablet's id of this scan; None for scans the server made (an undo).
    client_scan_id: Mapped[str | None] = mapped_column(sa.String(64))
    direction: Mapped[Direction] = mapped_column(enum_column(Direction, "scan_direction"),
                                                 default=Direction.IN)
    #: See the module; None when the code named no registration.
    scope: Mapped[str | None] = mapped_column(sa.String(24))
    result: Mapped[ScanResult] = mapped_column(enum_column(ScanResult, "scan_result"))
    #: What was scanned, cut to 130 characters (forged codes stay visible in the audit log).
    code: Mapped[str] = mapped_column(sa.String(130), default="")
    #: Found by search and checked in by hand (a supervisor), not scanned.
    manual: Mapped[bool] = mapped_column(default=False)
    #: Made while the tablet was offline and synced later.
    offline: Mapped[bool] = mapped_column(default=False)
    #: An offline scan the tablet let through that the server found already used elsewhere.
    conflict: Mapped[bool] = mapped_column(default=False)
    #: When the tablet scanned (its clock; the server's for online scans).
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the server stored it.
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: For an UNDO scan: the scan it undid.
    undoes_scan_id: Mapped[int | None] = mapped_column(
        BigId, sa.ForeignKey("scans.id", ondelete="SET NULL"))
    #: Set on a scan a supervisor undid.
    undone_at: Mapped[datetime | None]
