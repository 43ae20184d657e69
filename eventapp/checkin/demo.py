"""The demo's check-in: the venue's points and a morning of scans at them.

Every arrival and gift the demo's behaviour made becomes the scan that recorded it (the
activity then names that scan, as a live check-in's does); on top come session-room and booth
scans, a few people going out and back in, and the refusals a real gate sees: tickets shown
twice, a forged code, a cancelled booking, a screenshot of the wrong event's ticket.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from eventapp.auth.models import User
from eventapp.checkin.models import CheckinPoint, Direction, PointKind, Scan, ScanResult
from eventapp.contacts.models import Contact
from eventapp.core.activity import ActivityKind
from eventapp.events.models import Event, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.tickets import new_key_pair, new_serial, sign_ticket

#: (name, kind, hall, location)
POINTS = (
    ("北门入口 North entrance", PointKind.ENTRANCE, "蓝厅 Blue Hall", "世博大道一侧 · Shibo Avenue"),
    ("南门入口 South entrance", PointKind.ENTRANCE, "蓝厅 Blue Hall", "国展路一侧 · Guozhan Road"),
    ("主论坛 Main forum", PointKind.SESSION, "蓝厅 Blue Hall", "一层中央舞台 · ground floor stage"),
    ("工业 AI 分论坛 Industrial AI forum", PointKind.SESSION, "红厅 Red Hall", "二层 201 · room 201"),
    ("礼品台 Gift desk", PointKind.GIFT_DESK, "蓝厅 Blue Hall", "北门入口内侧 · inside the north entrance"),
    ("A12 柔性产线 Flexible lines", PointKind.BOOTH, "蓝厅 Blue Hall", "A12"),
    ("B03 工业视觉 Machine vision", PointKind.BOOTH, "蓝厅 Blue Hall", "B03"),
    ("C21 数字孪生 Digital twins", PointKind.BOOTH, "红厅 Red Hall", "C21"),
)


def seed_checkin(rng: random.Random, event: Event, registrations: list[Registration],
                 staff: list[User], activities: list[dict[str, Any]], now: datetime) -> int:
    """Add the points and the scans; re-point the demo's CHECKIN and GIFT activities at their
    scans. Returns the number of scans."""
    points = [CheckinPoint(event_id=event.id, name=name, kind=kind, hall=hall, location=where)
              for name, kind, hall, where in POINTS]
    db.session.add_all(points)
    db.session.flush()
    by_kind: dict[PointKind, list[CheckinPoint]] = {}
    for point in points:
        by_kind.setdefault(point.kind, []).append(point)
    by_reference = {f"registration:{r.id}": r for r in registrations}
    scans: list[tuple[Scan, dict[str, Any] | None]] = []

    def add(point: CheckinPoint, registration: Registration | None, result: ScanResult,
            at: datetime, *, scope: str | None, direction: Direction = Direction.IN,
            code: str = "", activity: dict[str, Any] | None = None) -> None:
        device = f"{point.kind.value}-{points.index(point) + 1}-{rng.randint(1, 2)}"
        scans.append((Scan(event_id=event.id, point_id=point.id,
                           registration_id=registration.id if registration else None,
                           staff_user_id=rng.choice(staff).id, device_id=device,
                           client_scan_id=str(uuid.UUID(int=rng.getrandbits(128))),
                           direction=direction, scope=scope, result=result,
                           code=code or (registration.ticket_code or "" if registration else ""),
                           scanned_at=at, recorded_at=at), activity))

    for activity in activities:
        registration = by_reference.get(activity.get("reference") or "")
        if registration is None:
            continue
        at = activity["occurred_at"]
        if activity["kind"] == ActivityKind.CHECKIN:
            add(rng.choice(by_kind[PointKind.ENTRANCE]), registration, ScanResult.VALID, at,
                scope="venue", activity=activity)
            _inside(rng, add, by_kind, registration, at, now, activities)
        elif activity["kind"] == ActivityKind.GIFT:
            registration.gift_given_at = at
            add(by_kind[PointKind.GIFT_DESK][0], registration, ScanResult.VALID, at,
                scope="gift", activity=activity)
    _refusals(rng, add, by_kind, registrations, now)
    db.session.add_all([scan for scan, _activity in scans])
    db.session.flush()
    for scan, activity in scans:
        if activity is not None:
            activity["reference"] = f"scan:{scan.id}"
    return len(scans)


def _inside(rng: random.Random, add: Any, by_kind: dict[PointKind, list[CheckinPoint]],
            registration: Registration, arrived: datetime, now: datetime,
            activities: list[dict[str, Any]]) -> None:
    """What an arrival did inside: a session, booths, now and then a trip out and back."""
    later = arrived
    for point in rng.sample(by_kind[PointKind.SESSION] + by_kind[PointKind.BOOTH],
                            k=rng.choice((0, 1, 1, 2, 3))):
        later = min(now, later + timedelta(minutes=rng.randint(5, 40)))
        kind = ActivityKind.BOOTH_SCAN if point.kind == PointKind.BOOTH else ActivityKind.CHECKIN
        activity = {"kind": str(kind), "event_id": registration.event_id,
                    "contact_id": registration.contact_id, "visitor_id": None,
                    "channel_id": registration.channel_id, "reference": None, "value": None,
                    "occurred_at": later}
        activities.append(activity)
        add(point, registration, ScanResult.VALID, later, scope=f"point:{point.id}",
            activity=activity)
    if rng.random() < 0.08:
        gate = rng.choice(by_kind[PointKind.ENTRANCE])
        out = min(now, later + timedelta(minutes=rng.randint(5, 30)))
        add(gate, registration, ScanResult.EXIT, out, scope="venue", direction=Direction.OUT)
        if rng.random() < 0.7:
            add(gate, registration, ScanResult.REENTRY,
                min(now, out + timedelta(minutes=rng.randint(5, 25))), scope="venue")


def _refusals(rng: random.Random, add: Any, by_kind: dict[PointKind, list[CheckinPoint]],
              registrations: list[Registration], now: datetime) -> None:
    """The refusals of a real morning at the gate."""
    gates = by_kind[PointKind.ENTRANCE]
    arrived = [r for r in registrations if r.checked_in_at]
    for registration in rng.sample(arrived, k=min(25, len(arrived))):
        at = min(now, registration.checked_in_at + timedelta(minutes=rng.randint(1, 90)))
        add(rng.choice(gates), registration, ScanResult.ALREADY_USED, at, scope="venue")
    cancelled = [r for r in registrations if r.status == RegistrationStatus.CANCELLED]
    for registration in rng.sample(cancelled, k=min(4, len(cancelled))):
        add(rng.choice(gates), registration, ScanResult.CANCELLED,
            now - timedelta(minutes=rng.randint(10, 120)), scope=None)
    genuine = registrations[0].ticket_code or ""
    forged = genuine[:-10] + ("A" if genuine[-10] != "A" else "B") + genuine[-9:]
    _public, other_key = new_key_pair()
    other_event = sign_ticket(registrations[0].event_id + 1, new_serial(), other_key)
    for result, code in ((ScanResult.FORGED, forged), (ScanResult.OTHER_EVENT, other_event),
                         (ScanResult.MALFORMED, "https://weixin.qq.com/r/abc")):
        add(rng.choice(gates), None, result, now - timedelta(minutes=rng.randint(10, 120)),
            scope=None, code=code)


def tickets_to_try(limit: int = 3) -> list[tuple[str, str]]:
    """(name, ticket code) of a few demo guests still to arrive: what `seed-demo` prints to
    type into the gate page."""
    from eventapp.demo import EVENT_SLUG  # the demo module imports this one

    rows = db.session.execute(
        sa.select(Contact.name, Registration.ticket_code)
        .join(Registration, Registration.contact_id == Contact.id)
        .join(Event, Registration.event_id == Event.id)
        .where(Event.slug == EVENT_SLUG, Registration.status == RegistrationStatus.CONFIRMED,
               Registration.checked_in_at.is_(None), Registration.ticket_code.is_not(None))
        .order_by(Registration.id).limit(limit))
    return [(name, code) for name, code in rows]
