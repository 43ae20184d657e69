"""Marketing's set-up of check-in points beyond adding and editing them (`services.save_point`):
how many scans each point has, closing and reopening a point, and deleting one never used.

A point with scans is never deleted: the scans table is the gate's audit log and names it.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from eventapp.checkin.models import CheckinPoint, Scan
from eventapp.core.errors import Conflict, NotFound
from eventapp.events.models import Event
from eventapp.extensions import db


def point_of(event: Event, point_id: int, *, lock: bool = False) -> CheckinPoint:
    """The event's check-in point `point_id`, or NotFound (also for another event's point).
    `lock` holds its row until the commit (PostgreSQL; SQLite's writer lock does that)."""
    query = sa.select(CheckinPoint).where(CheckinPoint.id == point_id,
                                          CheckinPoint.event_id == event.id)
    if lock:
        query = query.with_for_update()
    point = db.session.scalar(query)
    if point is None:
        raise NotFound()
    return point


def scan_counts(event: Event) -> dict[int, int]:
    """Point id -> how many scans (of any result) were made there; one grouped query. Points
    without scans are missing from it."""
    return dict(db.session.execute(
        sa.select(Scan.point_id, sa.func.count()).where(Scan.event_id == event.id)
        .group_by(Scan.point_id)).all())


def set_point_active(event: Event, point_id: int, active: bool) -> CheckinPoint:
    """Close a point (its tablets' scans are refused from now on, its scans stay) or open it
    again."""
    point = point_of(event, point_id)
    point.active = active
    db.session.flush()
    return point


def delete_point(event: Event, point_id: int) -> str:
    """Delete a point that has never been scanned at and return its name; a point with scans
    raises Conflict (close it instead). The point's row is locked first, so a scan being
    stored there at this moment is either counted or refused, never deleted with it."""
    point = point_of(event, point_id, lock=True)
    used = db.session.scalar(sa.select(sa.exists().where(Scan.point_id == point.id)))
    if used:
        raise Conflict(_l("%(name)s has scans, so it stays in the audit log. Close it "
                          "instead.", name=point.name))
    name = point.name
    db.session.delete(point)
    db.session.flush()
    return name
