"""The gate's audit log: every scan with its result, point, device and staff member, undone
scans and their undoing included. For supervisors and marketers."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from eventapp.checkin import figures, labels as checkin_labels, services
from eventapp.checkin.models import ScanResult
from eventapp.core.inputs import whole_number
from eventapp.events.access import SUPERVISOR_ROLES, event_role_required
from eventapp.events.models import Event

bp = Blueprint("checkin_log", __name__)


@bp.get("/events/<slug>/checkin/log")
@login_required
@event_role_required(*SUPERVISOR_ROLES)
def log(event: Event) -> str:
    point_id = request.args.get("point", type=whole_number)
    result = request.args.get("result") or None
    if result not in ScanResult._value2member_map_:
        result = None
    page = figures.scan_log(event, point_id=point_id, result=result,
                             page=request.args.get("page", 1, type=whole_number))
    return render_template("checkin/log.html", event=event, page=page,
                           points=services.points_of(event), point_id=point_id,
                           result=result, results=list(ScanResult),
                           checkin_labels=checkin_labels)
