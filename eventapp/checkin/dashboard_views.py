"""The live arrivals dashboard for marketing: arrivals against registrations, check-ins per
10 minutes, each point's entries, exits, people and refusals, occupancy per hall, gifts and
the latest scans.

The page shows the figures as they are when it loads (it works without JavaScript);
`static/checkin/dashboard.js` then asks `dashboard.json` for the same figures every
REFRESH_SECONDS and puts them in place. Page and JSON are built from one dict, so they can
never disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.dates import format_time
from flask import Blueprint, jsonify, render_template
from flask_babel import get_locale
from flask_login import login_required
from werkzeug.wrappers import Response

from eventapp.checkin.figures import arrivals_per_interval, checkin_totals, recent_scans
from eventapp.checkin.labels import point_kind, result_words
from eventapp.checkin.models import ADMITTED
from eventapp.core.i18n import local_datetime
from eventapp.core.time import utcnow, zone
from eventapp.events.access import SETUP_ROLES, event_role_required
from eventapp.events.models import Event

bp = Blueprint("checkin_dashboard", __name__)

#: How often the page asks for new figures.
REFRESH_SECONDS = 10
#: Width of one bar of the arrivals chart.
INTERVAL_MINUTES = 10
#: How many of the latest scans the page lists.
RECENT_SCANS = 15


def _clock(moment: datetime, timezone: str) -> str:
    """The time of day in the event's timezone and the reader's language ("14:05", "2:05 PM")."""
    return format_time(moment, "short", tzinfo=zone(timezone), locale=get_locale())


#: The arrivals chart's drawing area, in SVG units (it scales to the page's width).
CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_LABELS = 720, 160, 18, 22


def arrivals_chart(intervals: list[dict[str, Any]]) -> dict[str, Any]:
    """The bars of the arrivals chart: one per interval, the highest filling the height, a
    time under every few bars (at most 8). The page draws them at load and dashboard.js
    redraws them from the same numbers."""
    slots = max(len(intervals), 1)
    slot = CHART_WIDTH / slots
    highest = max([row["count"] for row in intervals] + [1])
    every = -(-slots // 8)
    bars = []
    for n, row in enumerate(intervals):
        height = round(row["count"] / highest * CHART_HEIGHT, 1)
        bars.append({"x": round(n * slot + slot * 0.12, 1), "width": round(slot * 0.76, 1),
                     "y": round(CHART_TOP + CHART_HEIGHT - height, 1), "height": height,
                     "center": round(n * slot + slot / 2, 1), "count": row["count"],
                     "label": row["label"], "tick": n % every == 0,
                     "value_shown": slots <= 30 and row["count"] > 0})
    return {"width": CHART_WIDTH, "height": CHART_TOP + CHART_HEIGHT + CHART_LABELS,
            "baseline": CHART_TOP + CHART_HEIGHT, "highest": highest, "bars": bars}


def dashboard_figures(event: Event) -> dict[str, Any]:
    """Everything the dashboard shows, as plain values (the JSON endpoint sends this dict)."""
    now = utcnow()
    totals = checkin_totals(event)
    names = {row.point.id: row.point.name for row in totals.points}
    intervals = arrivals_per_interval(event, INTERVAL_MINUTES, until=now)
    recent = []
    for scan, person, staff in recent_scans(event, limit=RECENT_SCANS):
        title, _advice = result_words(scan.result, gift=scan.scope == "gift")
        recent.append({
            "id": scan.id, "at": scan.scanned_at.isoformat(),
            "time": _clock(scan.scanned_at, event.timezone),
            "when": local_datetime(scan.scanned_at, event.timezone, "short"),
            "point": names.get(scan.point_id, ""), "name": person, "staff": staff,
            "result": scan.result.value, "result_label": title,
            "admitted": scan.result in ADMITTED, "direction": scan.direction.value,
            "offline": scan.offline,
            "conflict": scan.conflict, "manual": scan.manual,
            "undone": scan.undone_at is not None})
    per_interval = [{"start": start.isoformat(), "label": _clock(start, event.timezone),
                     "count": count} for start, count in intervals]
    return {
        "generated_at": now.isoformat(),
        "updated": format_time(now, "medium", tzinfo=zone(event.timezone), locale=get_locale()),
        "refresh_seconds": REFRESH_SECONDS,
        "arrivals": totals.arrivals,
        "expected": totals.expected,
        "still_to_come": max(totals.expected - totals.arrivals, 0),
        "arrived_share": totals.arrivals / totals.expected if totals.expected else None,
        "gifts": totals.gifts,
        "interval_minutes": INTERVAL_MINUTES,
        "intervals": per_interval,
        "chart": arrivals_chart(per_interval),
        "points": [{"id": row.point.id, "name": row.point.name,
                    "kind": row.point.kind.value, "kind_label": str(point_kind(row.point.kind)),
                    "hall": row.point.hall, "active": row.point.active,
                    "entries": row.entries, "exits": row.exits, "people": row.people,
                    "refused": row.refused} for row in totals.points],
        "halls": [{"hall": hall.hall, "entries": hall.entries, "exits": hall.exits,
                   "inside": hall.inside} for hall in totals.halls],
        "recent": recent,
    }


@bp.get("/events/<slug>/checkin/dashboard")
@login_required
@event_role_required(*SETUP_ROLES)
def dashboard(event: Event) -> str:
    return render_template("checkin/dashboard.html", event=event,
                           figures=dashboard_figures(event))


@bp.get("/events/<slug>/checkin/dashboard.json")
@login_required
@event_role_required(*SETUP_ROLES)
def figures(event: Event) -> Response:
    return jsonify(dashboard_figures(event))
