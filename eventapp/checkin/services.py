"""Check-in points, undo, offline sync, walk-ins, the tablet's offline roster and the counts.

Redemption itself is in `redeem.py` (the hot path); everything here builds on it, so a scan
at the gate, a synced offline scan and a walk-in follow the same rules and leave the same
record.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from eventapp.auth.models import User
from eventapp.checkin.models import CheckinPoint, Direction, PointKind, Scan, ScanResult
from eventapp.checkin.redeem import (ScanOutcome, ScanRequest, check_in_by_hand, redeem_code,
                                     redeem_code_at, usable_point)
from eventapp.contacts.models import Contact
from eventapp.core.activity import ActivityKind, record_activity
from eventapp.core.errors import Conflict, NotFound, ValidationFailed
from eventapp.core.time import utcnow
from eventapp.events.models import Event, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.booking import BookingRequest, book

#: Scans one sync request may carry; a tablet with more sends several batches.
MAX_SYNC_BATCH = 500


# --- points -------------------------------------------------------------------------------

def points_of(event: Event, *, active_only: bool = False) -> list[CheckinPoint]:
    """The event's check-in points: entrances first, then by name."""
    query = sa.select(CheckinPoint).where(CheckinPoint.event_id == event.id)
    if active_only:
        query = query.where(CheckinPoint.active.is_(True))
    order = sa.case({kind.value: n for n, kind in enumerate(PointKind)}, value=CheckinPoint.kind)
    return list(db.session.scalars(query.order_by(order, CheckinPoint.name)))


def save_point(event: Event, *, name: str, kind: str, hall: str = "", location: str = "",
               active: bool = True, point_id: int | None = None) -> CheckinPoint:
    """Add a check-in point, or change point `point_id`; names are unique within the event."""
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()[:120]
    if not name:
        errors["name"] = [str(_l("Give the point a name."))]
    try:
        point_kind = PointKind(kind)
    except ValueError:
        errors["kind"] = [str(_l("Unknown kind of check-in point."))]
    if errors:
        raise ValidationFailed(**errors)
    clash = db.session.scalar(sa.select(CheckinPoint.id).where(
        CheckinPoint.event_id == event.id, CheckinPoint.name == name,
        CheckinPoint.id != (point_id or 0)))
    if clash is not None:
        message = _l("Another check-in point of this event has this name.")
        raise Conflict(message, name=[str(message)])
    if point_id is None:
        point = CheckinPoint(event_id=event.id)
        db.session.add(point)
    else:
        point = db.session.get(CheckinPoint, point_id)
        if point is None or point.event_id != event.id:
            raise NotFound()
    point.name, point.kind = name, point_kind
    point.hall, point.location, point.active = hall.strip()[:80], location.strip()[:200], active
    db.session.flush()
    return point


# --- undo ---------------------------------------------------------------------------------

UNDOABLE = (ScanResult.VALID, ScanResult.REENTRY, ScanResult.EXIT)


def undo_scan(event: Event, scan_id: int, supervisor: User, device_id: str = "") -> Scan:
    """Undo a mistaken scan (a supervisor): the scan is marked undone and an UNDO scan naming
    it is added to the log, so the audit trail keeps both. An undone arrival or gift can be
    scanned again. Undoing twice is refused."""
    scan = db.session.get(Scan, scan_id)
    if scan is None or scan.event_id != event.id:
        raise NotFound()
    if scan.result not in UNDOABLE:
        raise Conflict(_l("Only a check-in, re-entry, exit or gift can be undone."))
    if scan.undone_at is not None:
        raise Conflict(_l("This scan was already undone."))
    now = utcnow()
    scan.undone_at = now
    undo = Scan(event_id=event.id, point_id=scan.point_id, registration_id=scan.registration_id,
                staff_user_id=supervisor.id, device_id=(device_id or "")[:64],
                direction=scan.direction, scope=scan.scope, result=ScanResult.UNDO,
                code="", manual=True, scanned_at=now, recorded_at=now, undoes_scan_id=scan.id)
    db.session.add(undo)
    if scan.result == ScanResult.VALID and scan.registration_id is not None:
        column = {"venue": "checked_in_at", "gift": "gift_given_at"}.get(scan.scope or "")
        if column:
            db.session.execute(sa.update(Registration)
                               .where(Registration.id == scan.registration_id)
                               .values({column: None})
                               .execution_options(synchronize_session="fetch"))
        contact_id = db.session.scalar(sa.select(Registration.contact_id).where(
            Registration.id == scan.registration_id))
        if contact_id is not None:
            record_activity(ActivityKind.CHECKIN_UNDONE, event_id=event.id,
                            contact_id=contact_id, reference=f"scan:{scan.id}")
    db.session.flush()
    return undo


# --- offline sync -------------------------------------------------------------------------

@dataclass
class SyncItem:
    """One scan a tablet made offline, as it sends it on reconnecting."""

    client_scan_id: str
    point_id: int
    scanned_at: datetime
    code: str = ""
    registration_id: int | None = None
    direction: Direction = Direction.IN
    purpose: str = "entry"
    #: What the tablet showed offline: it let the person through.
    device_admitted: bool = False


@dataclass
class SyncResult:
    client_scan_id: str
    outcome: ScanOutcome | None = None
    error: str | None = None


def sync_offline_scans(event: Event, staff: User, device_id: str, items: list[SyncItem], *,
                       by_hand_allowed: bool) -> list[SyncResult]:
    """Store scans a tablet made offline, oldest first, each by the same rules as a live
    scan. Idempotent: a scan id already stored answers its stored result. The server keeps
    the first valid scan it stores; an offline scan the tablet let through that turns out
    used already (another gate, also offline) is stored as ALREADY_USED with `conflict`.
    Check-ins by hand (a registration id instead of a code) are a supervisor's: without
    `by_hand_allowed` each is answered `not_allowed` and not stored."""
    if len(items) > MAX_SYNC_BATCH:
        raise ValidationFailed(_l("Send at most %(count)d scans at a time.",
                                  count=MAX_SYNC_BATCH))
    points: dict[int, CheckinPoint | None] = {}
    results: list[SyncResult] = []
    for item in sorted(items, key=lambda i: i.scanned_at):
        if item.point_id not in points:
            found = db.session.get(CheckinPoint, item.point_id)
            points[item.point_id] = found if found and found.event_id == event.id else None
        point = points[item.point_id]
        if point is None:  # an offline scan is stored even at a point closed meanwhile
            results.append(SyncResult(item.client_scan_id, error="unknown_point"))
            continue
        request = ScanRequest(point_id=point.id, device_id=device_id,
                              client_scan_id=item.client_scan_id, direction=item.direction,
                              purpose=item.purpose, scanned_at=item.scanned_at, offline=True,
                              device_admitted=item.device_admitted)
        if item.registration_id is not None:
            if not by_hand_allowed:
                results.append(SyncResult(item.client_scan_id, error="not_allowed"))
                continue
            try:
                outcome = check_in_by_hand(event, point, staff, item.registration_id, request)
            except NotFound:
                results.append(SyncResult(item.client_scan_id, error="unknown_registration"))
                continue
        else:
            outcome = redeem_code(event, point, staff, item.code, request)
        results.append(SyncResult(item.client_scan_id, outcome=outcome))
    return results


# --- walk-ins -----------------------------------------------------------------------------

def register_walk_in(event: Event, point: CheckinPoint, staff: User, form: Mapping[str, Any],
                     *, consent: bool, locale: str, request: ScanRequest) -> ScanOutcome:
    """Someone without a booking at the door: booked with the event's own form (even after
    booking closed, and beyond capacity: they are standing here), their ticket issued and
    sent, and checked in at `point`, in one step. Someone who had booked already is found and
    checked in with their own registration."""
    booking = book(event, BookingRequest(form=form, consent=consent, locale=locale,
                                         source="walk-in", walk_in=True,
                                         booking_key=request.client_scan_id))
    registration = booking.registration
    if registration.status != RegistrationStatus.CONFIRMED:
        registration.status = RegistrationStatus.CONFIRMED
        registration.cancelled_at = None
    db.session.flush()
    return check_in_by_hand(event, point, staff, registration.id, request)


# --- what a tablet takes offline ------------------------------------------------------------

def offline_roster(event: Event) -> dict[str, Any]:
    """Everything a tablet needs to check tickets with no network: the event's public key
    (signatures are checked on the tablet), its points, and every registration's ticket
    serial with the few details the result screen shows. Serials are strings: JavaScript
    numbers cannot hold 63 bits."""
    rows = db.session.execute(
        sa.select(Registration.id, Registration.ticket_serial, Registration.status,
                  Registration.checked_in_at, Registration.gift_given_at, Contact.name,
                  Contact.company, Contact.job_title)
        .join(Contact, Registration.contact_id == Contact.id)
        .where(Registration.event_id == event.id))
    return {
        "event_id": event.id,
        "public_key": base64.b64encode(event.ticket_public_key or b"").decode("ascii"),
        "gift": event.gift,
        "generated_at": utcnow(),
        "registrations": [
            {"id": rid, "serial": str(serial), "status": str(status),
             "checked_in": checked_in is not None, "gift_given": gift is not None,
             "name": name, "company": company, "job_title": job_title}
            for rid, serial, status, checked_in, gift, name, company, job_title in rows],
    }


def find_for_checkin(event: Event, search: str, limit: int = 20) -> list[tuple[Registration,
                                                                               Contact]]:
    """Registrations matching a search by name, mobile or company (a supervisor's search at
    the gate), confirmed first."""
    search = (search or "").strip()[:100]
    if not search:
        return []
    digits = "".join(ch for ch in search if ch.isdigit())
    conditions = [Contact.name.icontains(search, autoescape=True),
                  Contact.company.icontains(search, autoescape=True),
                  Contact.email.icontains(search, autoescape=True)]
    if len(digits) >= 4:
        conditions.append(Contact.phone.contains(digits, autoescape=True))
    order = sa.case({RegistrationStatus.CONFIRMED.value: 0}, value=Registration.status, else_=1)
    return [(registration, contact) for registration, contact in db.session.execute(
        sa.select(Registration, Contact).join(Contact, Registration.contact_id == Contact.id)
        .where(Registration.event_id == event.id, sa.or_(*conditions))
        .order_by(order, Contact.name).limit(limit))]


__all__ = ["ScanOutcome", "ScanRequest", "check_in_by_hand", "redeem_code", "redeem_code_at",
           "usable_point"]
