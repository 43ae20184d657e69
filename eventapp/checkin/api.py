"""/api/v1/events/<slug>/checkin: what the gate tablets call (and any scanner integration).

Every scan, whatever its result, is answered 200 with the result to show: a forged ticket is
a result of the gate, not an error of the API. Errors are for requests that cannot be a scan
at all (an unknown or closed point, a missing role, a malformed body).

Stewards (staff) may scan, sync and read the roster; supervisors (and marketers) may also
check in by hand, undo, search, register walk-ins and read the totals.
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask_babel import get_locale
from flask_login import current_user

from eventapp.checkin import figures, services
from eventapp.checkin.labels import result_words
from eventapp.checkin.redeem import POINT_AND_HOLDER, ScanOutcome, ScanRequest, usable_point
from eventapp.checkin.schemas import (ByHandSchema, PointSchema, RedeemSchema, RosterSchema,
                                      ScanOutcomeSchema, SearchHitSchema, SearchQuerySchema,
                                      SyncAnswerSchema, SyncSchema, TotalsSchema, UndoSchema,
                                      WalkInSchema)
from eventapp.core.api import api_blueprint
from eventapp.core.database import reads_first, writes_single_statements
from eventapp.events.access import (GATE_ROLES, SUPERVISOR_ROLES, event_role_required,
                                    reads_beside_the_user)
from eventapp.events.models import Event
from eventapp.extensions import csrf, db

blp = api_blueprint("checkin_api", __name__, "/events", "Check-in at the gate", csrf)


def outcome_body(event: Event, outcome: ScanOutcome) -> dict[str, Any]:
    """A scan's result as the API and the tablet page show it."""
    title, message = result_words(outcome.result, gift=outcome.scope == "gift")
    return {**outcome.__dict__, "admitted": outcome.admitted, "title": title,
            "message": message, "gift": event.gift}


def _scan_request(data: dict[str, Any]) -> ScanRequest:
    return ScanRequest(point_id=data["point_id"], device_id=data["device_id"],
                       client_scan_id=data["client_scan_id"], direction=data["direction"],
                       purpose=data["purpose"])


@blp.get("/<slug>/checkin/points")
@blp.response(200, PointSchema(many=True))
@event_role_required(*GATE_ROLES)
def list_points(event: Event) -> list[Any]:
    """The event's active check-in points, for the tablet to pick one."""
    return services.points_of(event, active_only=True)


@blp.post("/<slug>/checkin/redemptions")
@reads_first
@writes_single_statements
@reads_beside_the_user(POINT_AND_HOLDER)
@event_role_required(*GATE_ROLES)
@blp.arguments(RedeemSchema)
@blp.response(200, ScanOutcomeSchema)
def redeem(data: dict[str, Any], event: Event) -> dict[str, Any]:
    """Redeem a scanned ticket at a point. Exactly one of any number of simultaneous scans of
    one ticket is `valid`; the others are `already_used` with when, where and by whom."""
    outcome = services.redeem_code_at(event, data["point_id"], current_user, data["code"],
                                      _scan_request(data))
    db.session.commit()
    return outcome_body(event, outcome)


@blp.post("/<slug>/checkin/redemptions/by-hand")
@event_role_required(*SUPERVISOR_ROLES)
@blp.arguments(ByHandSchema)
@blp.response(200, ScanOutcomeSchema)
def redeem_by_hand(data: dict[str, Any], event: Event) -> dict[str, Any]:
    """Check in a registration found by search, without its QR code. Supervisors."""
    point = usable_point(event, data["point_id"])
    outcome = services.check_in_by_hand(event, point, current_user, data["registration_id"],
                                        _scan_request(data))
    db.session.commit()
    return outcome_body(event, outcome)


@blp.post("/<slug>/checkin/sync")
@event_role_required(*GATE_ROLES)
@blp.arguments(SyncSchema)
@blp.response(200, SyncAnswerSchema)
def sync(data: dict[str, Any], event: Event) -> dict[str, Any]:
    """Store the scans a tablet made offline (at most 500 a request), each by the rules of a
    live scan; sending a batch again changes nothing. `conflicts` counts offline scans let
    through that another gate had used first. Check-ins by hand (`registration_id`) are
    supervisors' only: a steward's are answered `not_allowed`."""
    items = [services.SyncItem(**scan) for scan in data["scans"]]
    by_hand = current_user.is_admin or g.get("event_role") in SUPERVISOR_ROLES
    results = services.sync_offline_scans(event, current_user, data["device_id"], items,
                                          by_hand_allowed=by_hand)
    db.session.commit()
    answers = [{"client_scan_id": r.client_scan_id, "error": r.error,
                "outcome": outcome_body(event, r.outcome) if r.outcome else None}
               for r in results]
    conflicts = sum(1 for r in results if r.outcome and r.outcome.conflict)
    return {"results": answers, "conflicts": conflicts}


@blp.post("/<slug>/checkin/scans/<int:scan_id>/undo")
@event_role_required(*SUPERVISOR_ROLES)
@blp.arguments(UndoSchema)
@blp.response(200, ScanOutcomeSchema)
def undo(data: dict[str, Any], event: Event, scan_id: int) -> dict[str, Any]:
    """Undo a mistaken check-in, re-entry, exit or gift. Supervisors. Both the scan and its
    undoing stay in the audit log."""
    undo_scan = services.undo_scan(event, scan_id, current_user, data["device_id"])
    db.session.commit()
    return outcome_body(event, ScanOutcome(scan_id=undo_scan.id, result=undo_scan.result,
                                           registration_id=undo_scan.registration_id,
                                           scanned_at=undo_scan.scanned_at))


@blp.get("/<slug>/checkin/roster")
@blp.response(200, RosterSchema)
@event_role_required(*GATE_ROLES)
def roster(event: Event) -> dict[str, Any]:
    """What a tablet keeps for offline use: the public key, the points and every
    registration's ticket serial, status and name."""
    return {**services.offline_roster(event),
            "points": services.points_of(event, active_only=True)}


@blp.get("/<slug>/checkin/search")
@event_role_required(*SUPERVISOR_ROLES)
@blp.arguments(SearchQuerySchema, location="query")
@blp.response(200, SearchHitSchema(many=True))
def search(query: dict[str, Any], event: Event) -> list[dict[str, Any]]:
    """Registrations by name, mobile or company, to check in by hand. Supervisors."""
    return [{"registration_id": registration.id, "status": str(registration.status),
             "checked_in_at": registration.checked_in_at,
             "gift_given_at": registration.gift_given_at, "name": contact.name,
             "company": contact.company, "job_title": contact.job_title,
             "phone": f"…{contact.phone[-4:]}" if contact.phone else None}
            for registration, contact in services.find_for_checkin(event, query["q"])]


@blp.get("/<slug>/checkin/totals")
@blp.response(200, TotalsSchema)
@event_role_required(*SUPERVISOR_ROLES)
def totals(event: Event) -> Any:
    """Arrivals (each person once), gifts, and per point and hall: entries, exits, people,
    refusals and occupancy. Supervisors and marketers."""
    return figures.checkin_totals(event)


@blp.post("/<slug>/checkin/walk-ins")
@event_role_required(*SUPERVISOR_ROLES)
@blp.arguments(WalkInSchema)
@blp.response(200, ScanOutcomeSchema)
def walk_in(data: dict[str, Any], event: Event) -> dict[str, Any]:
    """Register someone at the door with the event's booking form, issue the ticket and
    check them in, in one step. Supervisors."""
    point = usable_point(event, data["point_id"])
    request = ScanRequest(point_id=point.id, device_id=data["device_id"],
                          client_scan_id=data["client_scan_id"])
    outcome = services.register_walk_in(event, point, current_user, data["fields"],
                                        consent=data["consent"], locale=str(get_locale()),
                                        request=request)
    db.session.commit()
    return outcome_body(event, outcome)
