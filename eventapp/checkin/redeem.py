"""Redeeming tickets at a check-in point: one code path for a scan at the gate, a check-in by
hand, a walk-in, an offline scan synced later and the API.

Redemption is the hot path of the doors opening, so a first scan is one short transaction:
the point, the registration and its contact (one indexed SELECT; through the API it is part
of the query of who asks, `POINT_AND_HOLDER`), the valid scan (one INSERT that the partial
unique index lets through at most once per scope, `ON CONFLICT DO NOTHING`), the
registration's bookkeeping (one UPDATE by id) and the activity; on PostgreSQL these three are
one statement (data-modifying CTEs), so one round trip. The signature is checked in memory
before the transaction needs anything. Repeats and refusals take a few more reads to
say when, where and by whom the ticket was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Request
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite

from eventapp.auth.models import User
from eventapp.checkin.models import (ADMITTED, CheckinPoint, Direction, PointKind, Scan,
                                     ScanResult)
from eventapp.contacts.models import Contact
from eventapp.core.activity import (ActivityKind, activity_insert_from, activity_values,
                                    announce_activity, insert_activity)
from eventapp.core.database import start_writing
from eventapp.core.errors import Conflict, NotFound
from eventapp.core.inputs import INTEGER_MAX
from eventapp.core.time import utcnow
from eventapp.events.access import ReadBeside, read_beside
from eventapp.events.models import Event, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.tickets import InvalidTicket, TicketProblem, claimed_serial, verify_ticket

#: Offline scans may carry a tablet clock a little ahead of the server's; more is refused.
CLOCK_SKEW = timedelta(minutes=10)
_PROBLEM_RESULTS = {TicketProblem.MALFORMED: ScanResult.MALFORMED,
                    TicketProblem.FORGED: ScanResult.FORGED,
                    TicketProblem.OTHER_EVENT: ScanResult.OTHER_EVENT}


class PointNotUsable(Conflict):
    code = "point_not_usable"
    default_message = _l("This check-in point is closed. Choose another point on the tablet.")


@dataclass
class ScanRequest:
    """One scan as a tablet sends it."""

    point_id: int
    device_id: str = ""
    #: The tablet's id of the scan: the same id again is the same scan (a retry, a re-sync).
    client_scan_id: str | None = None
    direction: Direction = Direction.IN
    #: "entry" (the point's own rule) or "gift" (hand out the booking gift).
    purpose: str = "entry"
    #: Offline scans: when the tablet scanned, and whether it let the person through.
    scanned_at: datetime | None = None
    offline: bool = False
    device_admitted: bool | None = None
    manual: bool = False


@dataclass
class FirstUse:
    """When, where and by whom a ticket was first used in the scan's scope."""

    at: datetime
    point: str
    staff: str
    scan_id: int


@dataclass
class ScanOutcome:
    """What the tablet shows for a scan."""

    scan_id: int
    result: ScanResult
    registration_id: int | None = None
    name: str = ""
    company: str = ""
    job_title: str = ""
    #: The event's booking gift is due to this person (not handed out yet).
    gift_due: bool = False
    first: FirstUse | None = None
    conflict: bool = False
    #: The same client scan id was already stored: this is its stored result.
    replayed: bool = False
    scanned_at: datetime | None = None
    #: What the scan was about: "venue", "gift", "point:<id>" (None: no registration).
    scope: str | None = None

    @property
    def admitted(self) -> bool:
        return self.result in ADMITTED


@dataclass
class _Holder:
    """The registration a code named, with what the gate shows of its contact."""

    id: int
    status: RegistrationStatus
    contact_id: int
    channel_id: int | None
    gift_given_at: datetime | None
    name: str
    company: str
    job_title: str


_REGISTRATIONS, _CONTACTS = Registration.__table__, Contact.__table__
_POINTS, _SCANS, _USERS = CheckinPoint.__table__, Scan.__table__, User.__table__
# The hot path's statements, built once (Core: no ORM work per request).
_HOLDER = (sa.select(_REGISTRATIONS.c.id, _REGISTRATIONS.c.status, _REGISTRATIONS.c.contact_id,
                     _REGISTRATIONS.c.channel_id, _REGISTRATIONS.c.gift_given_at,
                     _CONTACTS.c.name, _CONTACTS.c.company, _CONTACTS.c.job_title)
           .join(_CONTACTS, _REGISTRATIONS.c.contact_id == _CONTACTS.c.id)
           .where(_REGISTRATIONS.c.event_id == sa.bindparam("event_id")))
_HOLDER_BY_SERIAL = _HOLDER.where(_REGISTRATIONS.c.ticket_serial == sa.bindparam("key"))
_HOLDER_BY_ID = _HOLDER.where(_REGISTRATIONS.c.id == sa.bindparam("key"))
_MARK = {column: _REGISTRATIONS.update().where(_REGISTRATIONS.c.id == sa.bindparam("rid"))
         .values({column: sa.bindparam("at")}) for column in ("checked_in_at", "gift_given_at")}


def _holder(statement: Any, event_id: int, key: int) -> _Holder | None:
    row = db.session.execute(statement, {"event_id": event_id, "key": key}).first()
    return _Holder(*row) if row is not None else None


# --- points -------------------------------------------------------------------------------

_POINT = sa.select(_POINTS.c.id, _POINTS.c.event_id, _POINTS.c.name, _POINTS.c.kind,
                   _POINTS.c.hall, _POINTS.c.active).where(
    _POINTS.c.id == sa.bindparam("point_id"), _POINTS.c.event_id == sa.bindparam("event_id"))


#: The point and the registration a ticket serial names (NULLs if none), in one query.
# Two flat LEFT JOINs (every registration has its contact), not a LEFT JOIN of an inner
# join: SQLite materialises the nested join, a scan of all registrations per scan.
_POINT_AND_HOLDER = _POINT.add_columns(*_HOLDER.selected_columns).select_from(
    _POINTS.outerjoin(_REGISTRATIONS, sa.and_(
        _REGISTRATIONS.c.event_id == _POINTS.c.event_id,
        _REGISTRATIONS.c.ticket_serial == sa.bindparam("key")))
    .outerjoin(_CONTACTS, _REGISTRATIONS.c.contact_id == _CONTACTS.c.id))
_POINT_WIDTH = len(_POINT.selected_columns)


def _point_and_holder_beside(owner: sa.Select[Any]) -> sa.Select[Any]:
    """`owner`, a query of who asks on an event (Event is in its FROM), reading also what
    `_POINT_AND_HOLDER` reads, of that event's point `point_id` and ticket serial `key`."""
    return (owner.add_columns(*_POINT_AND_HOLDER.selected_columns)
            .outerjoin(_POINTS, sa.and_(_POINTS.c.id == sa.bindparam("point_id"),
                                        _POINTS.c.event_id == Event.id))
            .outerjoin(_REGISTRATIONS, sa.and_(
                _REGISTRATIONS.c.event_id == Event.id,
                _REGISTRATIONS.c.ticket_serial == sa.bindparam("key")))
            .outerjoin(_CONTACTS, _REGISTRATIONS.c.contact_id == _CONTACTS.c.id))


#: The largest scan body read beside who asks (a scan is a few hundred bytes; its code at
#: most 2,000 characters); a larger one is left to the view.
_SCAN_BODY_MAX = 4096


def _scan_names(request: Request) -> dict[str, Any]:
    """The point and the ticket serial a scan's JSON body names, unchecked; None for what it
    does not name readably (the view's own checks answer that)."""
    body = None
    # Before the user is known: a small JSON body only, read without raising (a body nested
    # too deep for the parser is the view's 400, after the login check).
    if request.is_json and (request.content_length or _SCAN_BODY_MAX + 1) <= _SCAN_BODY_MAX:
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            body = None
    if not isinstance(body, dict):
        return {"point_id": None, "key": None}
    point_id, code = body.get("point_id"), body.get("code")
    return {"point_id": point_id if type(point_id) is int and 1 <= point_id <= INTEGER_MAX
            else None,
            "key": claimed_serial(_scanned(code)) if isinstance(code, str) else None}


#: A scan's point and ticket holder, read in the query of who asks (the redeem API), which
#: loads of the event only what a scan reads of it.
POINT_AND_HOLDER = ReadBeside(_point_and_holder_beside, _scan_names,
                              event_columns=("slug", "ticket_public_key", "gift"))


def _point_and_holder(event: Event, staff: User | None, point_id: int,
                      serial: int | None) -> Any:
    """The columns of `_POINT_AND_HOLDER` (None if no row): as the query of who asks read
    them if it did so for this point and serial (any serial when `serial` is None: then
    only the point is used), else read now."""
    beside = read_beside(POINT_AND_HOLDER, user_id=staff.id if staff else None,
                         slug=event.slug)
    if beside is not None and beside.parameters["point_id"] == point_id and (
            serial is None or beside.parameters["key"] == serial):
        return beside.columns
    return db.session.execute(_POINT_AND_HOLDER, {"point_id": point_id, "event_id": event.id,
                                                  "key": serial}).first()


def usable_point(event: Event, point_id: int) -> CheckinPoint:
    """The event's active check-in point `point_id`; NotFound or PointNotUsable."""
    return _usable(db.session.execute(_POINT, {"point_id": point_id,
                                               "event_id": event.id}).first(), event)


def _usable(row: Any, event: Event) -> CheckinPoint:
    if row is None or row[0] is None:  # no row, or the NULLs of an outer join
        raise NotFound()
    # What the scan needs to know of the point; not in the session.
    point = CheckinPoint(**dict(zip(_POINT.selected_columns.keys(), row[:_POINT_WIDTH],
                                    strict=True)))
    if point.event_id != event.id:
        raise NotFound()
    if not point.active:
        raise PointNotUsable()
    return point


# --- redeeming ----------------------------------------------------------------------------

def redeem_code(event: Event, point: CheckinPoint, staff: User | None, code: str,
                request: ScanRequest) -> ScanOutcome:
    """Check the scanned `code` at `point` and record the scan, whatever its result: valid
    exactly once per scope however many gates scan at once, otherwise why not. Runs in the
    caller's write transaction."""
    code = _scanned(code)
    serial = _serial(event, code)
    if isinstance(serial, ScanResult):
        return _record_refusal(event, point, staff, request, serial, code=code)
    holder = _holder(_HOLDER_BY_SERIAL, event.id, serial)
    return _redeem(event, point, staff, holder, request, code=code)


def redeem_code_at(event: Event, point_id: int, staff: User | None, code: str,
                   request: ScanRequest) -> ScanOutcome:
    """`redeem_code` at the event's active check-in point `point_id` (else NotFound or
    PointNotUsable), reading the point and the ticket's registration in one query: the
    gate's hot path."""
    code = _scanned(code)
    serial = _serial(event, code)
    refused = serial if isinstance(serial, ScanResult) else None
    row = _point_and_holder(event, staff, point_id, None if refused else serial)
    point = _usable(row, event)
    if refused is not None:
        return _record_refusal(event, point, staff, request, refused, code=code)
    holder = row[_POINT_WIDTH:]
    return _redeem(event, point, staff, _Holder(*holder) if holder[0] is not None else None,
                   request, code=code)


def _scanned(code: str | None) -> str:
    """A scanned code as it is checked and stored."""
    return (code or "").strip()[:130]


def _serial(event: Event, code: str) -> int | ScanResult:
    """The ticket serial a genuine code of this event carries, or why it is refused."""
    try:
        return verify_ticket(code, event.id, event.ticket_public_key,
                             key_of_event=_public_key_of).serial
    except InvalidTicket as error:
        return _PROBLEM_RESULTS[error.problem]


def check_in_by_hand(event: Event, point: CheckinPoint, staff: User,
                     registration_id: int, request: ScanRequest) -> ScanOutcome:
    """A supervisor checks in a registration found by search (a phone with a flat battery):
    the same rules and record as a scan, marked as done by hand."""
    holder = _holder(_HOLDER_BY_ID, event.id, registration_id)
    if holder is None:
        raise NotFound()
    request.manual = True
    return _redeem(event, point, staff, holder, request, code="")


def _public_key_of(event_id: int) -> bytes | None:
    return db.session.scalar(sa.select(Event.ticket_public_key).where(Event.id == event_id))


def _scope(point: CheckinPoint, request: ScanRequest) -> str:
    return "gift" if request.purpose == "gift" else point.scope()


def _scanned_at(request: ScanRequest, now: datetime) -> datetime:
    moment = request.scanned_at
    if moment is None or moment.tzinfo is None or moment > now + CLOCK_SKEW:
        return now
    return moment


def _redeem(event: Event, point: CheckinPoint, staff: User | None, holder: _Holder | None,
            request: ScanRequest, *, code: str) -> ScanOutcome:
    if holder is None:  # a genuine ticket of no registration of the event (now)
        return _record_refusal(event, point, staff, request, ScanResult.UNKNOWN, code=code)
    if holder.status == RegistrationStatus.CANCELLED:
        return _record_refusal(event, point, staff, request, ScanResult.CANCELLED, code=code,
                               holder=holder)
    if holder.status == RegistrationStatus.WAITLISTED:
        return _record_refusal(event, point, staff, request, ScanResult.WAITLISTED, code=code,
                               holder=holder)
    now = utcnow()
    scanned_at = _scanned_at(request, now)
    scope = _scope(point, request)
    if request.direction == Direction.OUT:
        return _record(event, point, staff, request, ScanResult.EXIT, code=code, holder=holder,
                       scope=scope, scanned_at=scanned_at)
    scan_id = _admit(event, point, holder, scope, _scan_values(
        event, point, staff, request, ScanResult.VALID, code=code, holder=holder, scope=scope,
        scanned_at=scanned_at, now=now))
    if scan_id is None:  # the scope's valid scan exists, or this very scan was stored before
        return _repeat(event, point, staff, holder, request, code=code, scope=scope,
                       scanned_at=scanned_at)
    return _outcome(event, scan_id, ScanResult.VALID, holder, scanned_at=scanned_at,
                    scope=scope)


def _admit(event: Event, point: CheckinPoint, holder: _Holder, scope: str,
           values: dict[str, Any]) -> int | None:
    """INSERT the valid scan and, only if the unique index let it in, what it changes
    besides: the arrival or gift time on the registration and the behaviour log. The new
    scan's id, or None (then nothing was written). On PostgreSQL this is one statement
    (data-modifying CTEs: one round trip instead of three); SQLite has none, so three."""
    column = _MARKED.get(scope)
    kind = {"gift": ActivityKind.GIFT}.get(scope) or (
        ActivityKind.BOOTH_SCAN if point.kind == PointKind.BOOTH else ActivityKind.CHECKIN)
    activity = activity_values(kind, event_id=event.id, contact_id=holder.contact_id,
                               channel_id=holder.channel_id, occurred_at=values["scanned_at"])
    if db.session.get_bind().dialect.name == "postgresql":
        scan_id = db.session.execute(_ADMIT[column], {
            **{f"scan_{name}": value for name, value in values.items()},
            **{f"activity_{name}": activity[name] for name in ("kind", "contact_id",
                                                                "channel_id")}}).scalar()
        if scan_id is not None:
            announce_activity({**activity, "reference": f"scan:{scan_id}"})
        return scan_id
    scan_id = _insert_scan(values)
    if scan_id is not None:
        if column is not None:
            db.session.execute(_MARK[column], {"rid": holder.id, "at": values["scanned_at"]})
        insert_activity({**activity, "reference": f"scan:{scan_id}"})
    return scan_id


def _repeat(event: Event, point: CheckinPoint, staff: User | None, holder: _Holder,
            request: ScanRequest, *, code: str, scope: str,
            scanned_at: datetime) -> ScanOutcome:
    """The valid scan of this scope was refused: the same scan sent again, a re-entry after
    an exit, or a ticket already used. One read (the person's entries and exits in the
    scope), then the scan's record; the same scan sent again is found among those entries
    (a valid scan, a re-entry or an exit) or, if it was a refusal, by the record's unique
    client scan id (`_record`)."""
    rows = _history(holder.id, scope)
    mine = _client_scan_id(request)
    stored = next((row for row in rows if mine and row.client_scan_id == mine), None)
    if stored is not None:
        return _replay(event, stored, holder)
    first, went_out = _first_use_and_exit_in(rows)
    if first is not None and scope != "gift" and went_out:
        return _record(event, point, staff, request, ScanResult.REENTRY, code=code,
                       holder=holder, scope=scope, scanned_at=scanned_at)
    conflict = bool(request.offline and request.device_admitted)
    return _record(event, point, staff, request, ScanResult.ALREADY_USED, code=code,
                   holder=holder, scope=scope, scanned_at=scanned_at, first=first,
                   conflict=conflict)


_SCANS_C = _SCANS.c
#: A person's standing entries and exits in a scope, oldest first (an index range).
_HISTORY = (sa.select(_SCANS_C.id, _SCANS_C.result, _SCANS_C.scanned_at, _POINTS.c.name,
                      _USERS.c.name.label("staff"), _SCANS_C.scope, _SCANS_C.conflict,
                      _SCANS_C.client_scan_id)
            .join(_POINTS, _SCANS_C.point_id == _POINTS.c.id)
            .outerjoin(_USERS, _SCANS_C.staff_user_id == _USERS.c.id)
            .where(_SCANS_C.registration_id == sa.bindparam("rid"),
                   _SCANS_C.scope == sa.bindparam("scope"),
                   _SCANS_C.result.in_((ScanResult.VALID, ScanResult.REENTRY, ScanResult.EXIT)),
                   _SCANS_C.undone_at.is_(None))
            .order_by(_SCANS_C.id))
_STORED = sa.select(_SCANS_C.id, _SCANS_C.result, _SCANS_C.scope, _SCANS_C.scanned_at,
                    _SCANS_C.conflict).where(_SCANS_C.event_id == sa.bindparam("event_id"),
                                             _SCANS_C.client_scan_id == sa.bindparam("scan_id"))


def _history(registration_id: int, scope: str) -> list[Any]:
    """The person's standing entries and exits in the scope, oldest first; one query."""
    return db.session.execute(_HISTORY, {"rid": registration_id, "scope": scope}).all()


def _first_use_and_exit(registration_id: int, scope: str) -> tuple[FirstUse | None, bool]:
    """The scope's standing valid scan (when, where, by whom), and whether the person's
    latest entry or exit since is an exit; one query."""
    return _first_use_and_exit_in(_history(registration_id, scope))


def _first_use_and_exit_in(rows: list[Any]) -> tuple[FirstUse | None, bool]:
    """`_first_use_and_exit` of the rows `_history` read."""
    valid = next((row for row in rows if row.result == ScanResult.VALID), None)
    if valid is None:
        return None, False
    first = FirstUse(at=valid.scanned_at, point=valid.name, staff=valid.staff or "",
                     scan_id=valid.id)
    return first, rows[-1].result == ScanResult.EXIT


def _client_scan_id(request: ScanRequest) -> str | None:
    """The scan's client scan id as stored (None if it has none)."""
    return request.client_scan_id[:64] if request.client_scan_id else None


def _stored_scan(event: Event, request: ScanRequest) -> Any:
    """The scan this device already sent with this id (a retry, a re-sync), or None."""
    client_scan_id = _client_scan_id(request)
    if client_scan_id is None:
        return None
    return db.session.execute(_STORED, {"event_id": event.id,
                                        "scan_id": client_scan_id}).first()


def _replay(event: Event, stored: Any, holder: _Holder | None) -> ScanOutcome:
    """The stored scan's outcome, sent again."""
    first = None
    if stored.result == ScanResult.ALREADY_USED and holder is not None and stored.scope:
        first, _went_out = _first_use_and_exit(holder.id, stored.scope)
    outcome = _outcome(event, stored.id, stored.result, holder, scanned_at=stored.scanned_at,
                       first=first, conflict=stored.conflict, scope=stored.scope)
    outcome.replayed = True
    return outcome


def _record_refusal(event: Event, point: CheckinPoint, staff: User | None,
                    request: ScanRequest, result: ScanResult, *, code: str,
                    holder: _Holder | None = None) -> ScanOutcome:
    conflict = bool(request.offline and request.device_admitted)
    return _record(event, point, staff, request, result, code=code, holder=holder, scope=None,
                   scanned_at=_scanned_at(request, utcnow()), conflict=conflict)


def _record(event: Event, point: CheckinPoint, staff: User | None, request: ScanRequest,
            result: ScanResult, *, code: str, holder: _Holder | None, scope: str | None,
            scanned_at: datetime, first: FirstUse | None = None,
            conflict: bool = False) -> ScanOutcome:
    """Store a scan that takes nothing once-only (a refusal, a repeat, an exit)."""
    scan_id = _insert_scan(_scan_values(event, point, staff, request, result, code=code,
                                        holder=holder, scope=scope, scanned_at=scanned_at,
                                        now=utcnow(), conflict=conflict))
    if scan_id is None:  # only the client scan id can clash here: the same scan again
        stored = _stored_scan(event, request)
        assert stored is not None
        return _replay(event, stored, holder)
    return _outcome(event, scan_id, result, holder, scanned_at=scanned_at, first=first,
                    conflict=conflict, scope=scope)


def _scan_values(event: Event, point: CheckinPoint, staff: User | None, request: ScanRequest,
                 result: ScanResult, *, code: str, holder: _Holder | None, scope: str | None,
                 scanned_at: datetime, now: datetime, conflict: bool = False
                 ) -> dict[str, Any]:
    return {"event_id": event.id, "point_id": point.id,
            "registration_id": holder.id if holder else None,
            "staff_user_id": staff.id if staff else None,
            "device_id": (request.device_id or "")[:64],
            "client_scan_id": _client_scan_id(request),
            "direction": request.direction, "scope": scope, "result": result, "code": code,
            "manual": request.manual, "offline": request.offline, "conflict": conflict,
            "scanned_at": scanned_at, "recorded_at": now}


#: The scan INSERT, built once per dialect (a Core statement: no ORM work per request).
_INSERT_SCAN = {name: dialect.insert(_SCANS).on_conflict_do_nothing().returning(_SCANS.c.id)
                for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}


def _admission(column: str | None) -> sa.Select[Any]:
    """PostgreSQL's one statement for a valid scan: the scan's INSERT (skipped, as in
    `_insert_scan`, if a unique index refuses it), then from its RETURNING row, so only if
    it went in, the registration's `column` (None: nothing to mark) and the activity
    (referring to the scan as "scan:<id>", at the scan's time). Selects the scan's id.
    Its parameters are `scan_<column>` and `activity_<column>`: SQLAlchemy would make a
    parameter named as a column of registrations part of the UPDATE's SET clause."""
    scan = (postgresql.insert(_SCANS)
            .values({name: sa.bindparam(f"scan_{name}") for name in _SCAN_FIELDS})
            .on_conflict_do_nothing()
            .returning(_SCANS.c.id, _SCANS.c.event_id, _SCANS.c.registration_id,
                       _SCANS.c.scanned_at)
            .cte("scan"))
    activity = activity_insert_from(sa.select(
        sa.bindparam("activity_kind", type_=sa.String).label("kind"), scan.c.event_id,
        sa.bindparam("activity_contact_id", type_=sa.Integer).label("contact_id"),
        sa.bindparam("activity_channel_id", type_=sa.Integer).label("channel_id"),
        (sa.literal("scan:") + sa.cast(scan.c.id, sa.String)).label("reference"),
        scan.c.scanned_at.label("occurred_at")))
    statement = sa.select(scan.c.id).add_cte(activity.cte("activity"))
    if column is not None:
        statement = statement.add_cte(
            _REGISTRATIONS.update().where(_REGISTRATIONS.c.id == scan.c.registration_id)
            .values({column: scan.c.scanned_at}).cte("marked"))
    return statement


#: The registration's column a valid scan of a scope sets (other scopes set none).
_MARKED = {"venue": "checked_in_at", "gift": "gift_given_at"}
_SCAN_FIELDS = ("event_id", "point_id", "registration_id", "staff_user_id", "device_id",
                "client_scan_id", "direction", "scope", "result", "code", "manual", "offline",
                "conflict", "scanned_at", "recorded_at")
_ADMIT = {column: _admission(column) for column in (*_MARKED.values(), None)}


def _insert_scan(values: dict[str, Any]) -> int | None:
    """INSERT the scan unless a unique index refuses it (the scope's standing valid scan, or
    the same client scan id); the new id, or None. One statement, atomic on both databases:
    of two gates inserting the same valid scan at once, PostgreSQL makes the second wait for
    the first's commit and then skip; SQLite's writers take turns."""
    start_writing(db.session)
    dialect = db.session.get_bind().dialect.name
    return db.session.execute(_INSERT_SCAN[dialect], values).scalar()


def _outcome(event: Event, scan_id: int, result: ScanResult, holder: _Holder | None, *,
             scanned_at: datetime | None, first: FirstUse | None = None,
             conflict: bool = False, scope: str | None = None) -> ScanOutcome:
    if holder is None:
        return ScanOutcome(scan_id=scan_id, result=result, scanned_at=scanned_at,
                           conflict=conflict)
    gift_given = holder.gift_given_at is not None or (
        scope == "gift" and result == ScanResult.VALID)
    gift_due = bool(event.gift) and not gift_given and \
        result in (ScanResult.VALID, ScanResult.REENTRY, ScanResult.ALREADY_USED)
    return ScanOutcome(scan_id=scan_id, result=result, registration_id=holder.id,
                       name=holder.name, company=holder.company, job_title=holder.job_title,
                       gift_due=gift_due, first=first, conflict=conflict,
                       scanned_at=scanned_at, scope=scope)
