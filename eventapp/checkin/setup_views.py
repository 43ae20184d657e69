"""Marketing's set-up of the event's check-in points: the list with each point's scans, adding,
editing, closing and reopening, and deleting a point never scanned at."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from eventapp.checkin import points as point_setup
from eventapp.checkin import services
from eventapp.checkin.forms import PointForm
from eventapp.checkin.labels import point_kind
from eventapp.core.forms import commit_or_flash_error, commit_or_show_error
from eventapp.events.access import SETUP_ROLES, event_role_required
from eventapp.events.models import Event

bp = Blueprint("checkin_setup", __name__)


def _back(event: Event) -> Response:
    return redirect(url_for("checkin_setup.points", slug=event.slug))


@bp.route("/events/<slug>/checkin/points", methods=["GET", "POST"])
@login_required
@event_role_required(*SETUP_ROLES)
def points(event: Event) -> str | Response:
    form = PointForm()
    if form.validate_on_submit():
        saved, point = commit_or_show_error(form, lambda: services.save_point(
            event, name=form.name.data, kind=form.kind.data, hall=form.hall.data or "",
            location=form.location.data or ""))
        if saved:
            flash(_("Check-in point %(name)s added.", name=point.name), "success")
            return _back(event)
    return render_template("checkin/points.html", event=event, form=form,
                           points=services.points_of(event),
                           scans=point_setup.scan_counts(event), point_kind=point_kind)


@bp.route("/events/<slug>/checkin/points/<int:point_id>", methods=["GET", "POST"])
@login_required
@event_role_required(*SETUP_ROLES)
def edit_point(event: Event, point_id: int) -> str | Response:
    point = point_setup.point_of(event, point_id)
    form = PointForm(obj=point, kind=point.kind.value)
    if form.validate_on_submit():
        saved, _point = commit_or_show_error(form, lambda: services.save_point(
            event, name=form.name.data, kind=form.kind.data, hall=form.hall.data or "",
            location=form.location.data or "", active=point.active, point_id=point.id))
        if saved:
            flash(_("Check-in point saved."), "success")
            return _back(event)
    return render_template("checkin/point_edit.html", event=event, form=form, point=point,
                           scans=point_setup.scan_counts(event).get(point.id, 0))


@bp.post("/events/<slug>/checkin/points/<int:point_id>/close")
@login_required
@event_role_required(*SETUP_ROLES)
def close_point(event: Event, point_id: int) -> Response:
    done, point = commit_or_flash_error(
        lambda: point_setup.set_point_active(event, point_id, False))
    if done:
        flash(_("%(name)s is closed: its tablets can no longer scan there.",
                name=point.name), "success")
    return _back(event)


@bp.post("/events/<slug>/checkin/points/<int:point_id>/reopen")
@login_required
@event_role_required(*SETUP_ROLES)
def reopen_point(event: Event, point_id: int) -> Response:
    done, point = commit_or_flash_error(
        lambda: point_setup.set_point_active(event, point_id, True))
    if done:
        flash(_("%(name)s is open again.", name=point.name), "success")
    return _back(event)


@bp.post("/events/<slug>/checkin/points/<int:point_id>/delete")
@login_required
@event_role_required(*SETUP_ROLES)
def delete_point(event: Event, point_id: int) -> Response:
    done, name = commit_or_flash_error(lambda: point_setup.delete_point(event, point_id))
    if done:
        flash(_("%(name)s is deleted.", name=name), "success")
    return _back(event)
