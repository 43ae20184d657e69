"""The gate's figures: arrivals (each person once), per point and hall, per 10 minutes, the
latest scans, and the audit log. Set-based queries throughout: the dashboard and the
supervisor's tablet poll them every 10 seconds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from eventapp.auth.models import User
from eventapp.checkin.models import CheckinPoint, PointKind, Scan, ScanResult
from eventapp.checkin.services import UNDOABLE, points_of
from eventapp.contacts.models import Contact
from eventapp.core.time import utcnow
from eventapp.events.models import Event, Registration, RegistrationStatus
from eventapp.extensions import db


# --- counts -------------------------------------------------------------------------------

@dataclass
class PointTotals:
    point: CheckinPoint
    entries: int = 0  # valid + re-entries
    exits: int = 0
    people: int = 0  # distinct people let in here
    refused: int = 0  # scans that let no one through (already used, invalid...)


@dataclass
class HallOccupancy:
    hall: str
    entries: int = 0
    exits: int = 0

    @property
    def inside(self) -> int:
        return max(self.entries - self.exits, 0)


@dataclass
class CheckinTotals:
    """Arrivals for the venue (each person once, whatever points they pass), and per point
    and per hall."""

    arrivals: int
    expected: int
    gifts: int
    points: list[PointTotals]
    halls: list[HallOccupancy] = field(default_factory=list)

    @property
    def on_site(self) -> int:
        """People at the venue now: entrance entries (first arrivals and re-entries) minus
        entrance exits."""
        entrances = [p for p in self.points if p.point.kind == PointKind.ENTRANCE]
        return max(sum(p.entries for p in entrances) - sum(p.exits for p in entrances), 0)


REFUSALS = tuple(r for r in ScanResult if r not in (*UNDOABLE, ScanResult.UNDO))


def checkin_totals(event: Event) -> CheckinTotals:
    """The counts a supervisor and the dashboard show, in three set-based queries."""
    arrivals, expected, gifts = db.session.execute(
        sa.select(sa.func.count(Registration.checked_in_at), sa.func.count(),
                  sa.func.count(Registration.gift_given_at))
        .where(Registration.event_id == event.id,
               Registration.status == RegistrationStatus.CONFIRMED)).one()
    rows = {point.id: PointTotals(point) for point in points_of(event)}
    standing = Scan.undone_at.is_(None)
    for point_id, entries, exits, people, refused in db.session.execute(
            sa.select(Scan.point_id,
                      sa.func.count().filter(Scan.result.in_(
                          (ScanResult.VALID, ScanResult.REENTRY)), standing),
                      sa.func.count().filter(Scan.result == ScanResult.EXIT, standing),
                      sa.func.count(sa.distinct(Scan.registration_id)).filter(
                          Scan.result == ScanResult.VALID, standing),
                      sa.func.count().filter(Scan.result.in_(REFUSALS)))
            .where(Scan.event_id == event.id).group_by(Scan.point_id)):
        if point_id in rows:
            row = rows[point_id]
            row.entries, row.exits, row.people, row.refused = entries, exits, people, refused
    halls: dict[str, HallOccupancy] = {}
    for row in rows.values():
        if row.point.kind in (PointKind.ENTRANCE, PointKind.SESSION) and row.point.hall:
            hall = halls.setdefault(row.point.hall, HallOccupancy(row.point.hall))
            hall.entries += row.entries
            hall.exits += row.exits
    return CheckinTotals(arrivals=arrivals, expected=expected, gifts=gifts,
                         points=list(rows.values()), halls=list(halls.values()))


def arrivals_per_interval(event: Event, minutes: int = 10, *, since: datetime | None = None,
                          until: datetime | None = None) -> list[tuple[datetime, int]]:
    """Venue arrivals per `minutes`, on the clock's marks (09:10, 09:20...), from `since`
    (default: an hour before the start) to `until` (default: now), empty intervals included;
    the last day at most: the dashboard's bar chart."""
    step = timedelta(minutes=minutes)
    until = until or utcnow()
    since = since or min(event.starts_at - timedelta(hours=1), until)
    since = max(since, until - timedelta(days=1))
    epoch = datetime(2000, 1, 1, tzinfo=since.tzinfo)
    since -= (since - epoch) % step  # zones are whole quarter hours off UTC: marks stay marks
    buckets: dict[int, int] = {}
    for (arrived,) in db.session.execute(
            sa.select(Registration.checked_in_at).where(
                Registration.event_id == event.id, Registration.checked_in_at >= since,
                Registration.checked_in_at <= until)):
        index = int((arrived - since) / step)
        buckets[index] = buckets.get(index, 0) + 1
    count = int((until - since) / step) + 1
    return [(since + step * i, buckets.get(i, 0)) for i in range(count)]


def recent_scans(event: Event, *, point_id: int | None = None,
                 limit: int = 20) -> list[tuple[Scan, str, str]]:
    """The latest scans (newest first) with the person's name and the staff member's."""
    query = (sa.select(Scan, Contact.name, User.name)
             .outerjoin(Registration, Scan.registration_id == Registration.id)
             .outerjoin(Contact, Registration.contact_id == Contact.id)
             .outerjoin(User, Scan.staff_user_id == User.id)
             .where(Scan.event_id == event.id)
             .order_by(Scan.recorded_at.desc(), Scan.id.desc()).limit(limit))
    if point_id is not None:
        query = query.where(Scan.point_id == point_id)
    return [(scan, name or "", staff or "") for scan, name, staff in db.session.execute(query)]


# --- the audit log --------------------------------------------------------------------------

@dataclass
class LogRow:
    scan: Scan
    point: str
    person: str
    staff: str


@dataclass
class LogPage:
    """One page of the audit log; the attributes the pagination macro reads."""

    items: list[LogRow]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(-(-self.total // self.per_page), 1)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def scan_log(event: Event, *, point_id: int | None = None, result: str | None = None,
             page: int = 1, per_page: int = 50) -> LogPage:
    """Every scan of the event, newest first, with its point, person and staff member: the
    gate's audit log (undone scans and the undo that names them included)."""
    conditions = [Scan.event_id == event.id]
    if point_id is not None:
        conditions.append(Scan.point_id == point_id)
    if result in ScanResult._value2member_map_:
        conditions.append(Scan.result == result)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Scan).where(*conditions))
    page = max(page, 1)
    rows = db.session.execute(
        sa.select(Scan, CheckinPoint.name, Contact.name, User.name)
        .join(CheckinPoint, Scan.point_id == CheckinPoint.id)
        .outerjoin(Registration, Scan.registration_id == Registration.id)
        .outerjoin(Contact, Registration.contact_id == Contact.id)
        .outerjoin(User, Scan.staff_user_id == User.id)
        .where(*conditions).order_by(Scan.recorded_at.desc(), Scan.id.desc())
        .limit(per_page).offset((page - 1) * per_page))
    return LogPage([LogRow(scan, point, person or "", staff or "")
                    for scan, point, person, staff in rows], page, per_page, total or 0)
