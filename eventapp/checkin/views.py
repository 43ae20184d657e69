"""The gate tablet's page: scanning, the result screen, recent scans and the supervisor tools.

The page is rendered once per shift and then talks to the check-in API only (through
`static/checkin/gate-client.js`, which also keeps working offline). Everything the page says,
it says in words rendered here, so it reads the same online and offline.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from eventapp.checkin import figures, labels, services
from eventapp.checkin.models import PointKind, ScanResult
from eventapp.events import labels as event_labels
from eventapp.events.access import GATE_ROLES, SUPERVISOR_ROLES, event_role_required
# The walk-in form is the invitation's booking form, drawn by the same macros.
from eventapp.events.booking_form import BookingFormSpec, booking_form_helpers
from eventapp.events.models import Event

bp = Blueprint("checkin", __name__)

#: Recent scans shown per point on the first render (the page adds new ones as they come).
RECENT_SCANS = 10
#: Points where the tablet chooses between entry and exit scans.
DIRECTION_KINDS = frozenset({PointKind.ENTRANCE, PointKind.SESSION})


#: The colour of each result on the result screen and in the recent scans.
TONES = {ScanResult.VALID: "good", ScanResult.REENTRY: "good", ScanResult.EXIT: "good",
         ScanResult.UNDO: "neutral", ScanResult.ALREADY_USED: "warn"}


def tone_of(result: str) -> str:
    return TONES.get(ScanResult(result), "bad")


def _is_supervisor() -> bool:
    return current_user.is_admin or g.get("event_role") in SUPERVISOR_ROLES


def tablet_words(supervisor: bool) -> dict[str, Any]:
    """Every string gate.js shows, in the reader's language. `{name}` placeholders are filled
    in by the page, so a translation may put them in any order."""
    words: dict[str, Any] = {
        **labels.words_for_tablet(),
        "tones": {result.value: tone_of(result) for result in ScanResult},
        "ready": _("Ready to scan"),
        "ready_hint": _("Scan a ticket with the scanner or the camera."),
        "checking": _("Checking…"),
        "first_use": _("First used %(when)s at %(point)s by %(staff)s", when="{when}",
                       point="{point}", staff="{staff}"),
        "first_use_no_staff": _("First used %(when)s at %(point)s", when="{when}",
                                point="{point}"),
        "gift_due": _("Gift due: %(gift)s", gift="{gift}"),
        "offline_result": _("Checked on this tablet (offline): the server confirms it when "
                            "the network is back."),
        "conflict": _("Conflict: this ticket was used at another gate while offline."),
        "not_a_scan": _("Not scanned"),
        "network_error": _("No answer from the server. Scan again."),
        "offline_reasons": {
            "no_roster": _("Offline, and this tablet has no guest list yet: it needs the "
                           "network once. Check the ticket by hand or call a supervisor."),
            "unknown_point": _("Offline, and this tablet does not know this check-in point "
                               "yet. Choose the point again when the network is back."),
            "unknown_registration": _("Offline, and this person is not on the tablet's "
                                      "guest list."),
        },
        "conflict_line": _("%(name)s, scanned %(when)s at %(point)s", name="{name}",
                           when="{when}", point="{point}"),
        "undo_failed": _("Could not undo"),
        "offline": {"one": ngettext("Offline: %(count)s scan waiting to sync",
                                    "Offline: %(count)s scans waiting to sync", 1,
                                    count="{count}"),
                    "other": ngettext("Offline: %(count)s scan waiting to sync",
                                      "Offline: %(count)s scans waiting to sync", 2,
                                      count="{count}")},
        "syncing": {"one": ngettext("Online: %(count)s scan waiting to sync",
                                    "Online: %(count)s scans waiting to sync", 1,
                                    count="{count}"),
                    "other": ngettext("Online: %(count)s scan waiting to sync",
                                      "Online: %(count)s scans waiting to sync", 2,
                                      count="{count}")},
        "last_sync": _("Last synced %(when)s", when="{when}"),
        "camera_unavailable": _("The camera cannot be used: %(reason)s", reason="{reason}"),
        "camera_reasons": {
            "NotAllowedError": _("this browser was not allowed to use it. Allow the camera "
                                 "in the browser's site settings."),
            "NotFoundError": _("this tablet has no camera."),
            "NotReadableError": _("another app is using it."),
            "insecure": _("the page must be opened over https."),
        },
        "camera_start": _("Start camera"),
        "camera_stop": _("Stop camera"),
        "no_name": _("(no name)"),
        "logout_pending": _("%(count)s scans made offline are not synced yet. They stay on "
                            "this tablet and are sent when someone of the gate team signs in "
                            "here again. Log out anyway?", count="{count}"),
    }
    if supervisor:
        words.update({
            "search_none": _("No one found. Check the spelling, or register a walk-in."),
            "search_failed": _("The search did not answer. Try again."),
            "checked_in_at": _("Checked in %(when)s", when="{when}"),
            "walk_in_failed": _("Please correct the marked fields."),
            "totals_failed": _("Totals are not available right now."),
            "statuses": {status.value: str(label) for status, label
                         in event_labels.REGISTRATION_STATUSES.items()},
        })
    return words


@bp.get("/events/<slug>/checkin")
@login_required
@event_role_required(*GATE_ROLES)
def gate(event: Event) -> str:
    """The gate page: the tablet picks its point, then scans; supervisors get their tools."""
    supervisor = _is_supervisor()
    points = services.points_of(event, active_only=True)
    recent = {point.id: figures.recent_scans(event, point_id=point.id, limit=RECENT_SCANS)
              for point in points}
    api_base = url_for("checkin_api.list_points", slug=event.slug).rsplit("/", 1)[0]
    return render_template(
        "checkin/gate.html", event=event, points=points, recent=recent,
        supervisor=supervisor, words=tablet_words(supervisor), api_base=api_base,
        direction_kinds=DIRECTION_KINDS, checkin_labels=labels, tone_of=tone_of,
        # the badges module serves /checkin/badges/<id>.pdf; the page fills in the id
        badge_url=url_for("checkin.gate", slug=event.slug) + "/badges/{id}.pdf",
        spec=BookingFormSpec.from_json(event.booking_form) if supervisor else None,
        errors={}, values={}, **booking_form_helpers())
