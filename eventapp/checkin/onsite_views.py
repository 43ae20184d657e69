"""Marketing's set-up of the on-site guide (floor plan, questions, help contact), and the floor
plan image as attendees' ticket pages show it. Each view parses, calls one service of
checkin/onsite.py and commits or shows the error."""

from __future__ import annotations

from typing import Any

from flask import (Blueprint, current_app, flash, redirect, render_template, request,
                   send_from_directory, session, url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response
from wtforms import HiddenField, StringField
from wtforms.validators import Length, Optional

from eventapp.checkin import onsite
from eventapp.checkin.models import PointKind
from eventapp.core.errors import DomainError, ValidationFailed, handle_http_exception
from eventapp.core.forms import commit_or_flash_error, commit_or_show_error, show_error_on_form
from eventapp.events.access import SETUP_ROLES, event_role_required
from eventapp.events.cover_images import PreparedCover, prepare_cover, too_large_message
from eventapp.events.models import Event
from eventapp.events.setup_forms import ACCEPTED_IMAGES
from eventapp.extensions import db

bp = Blueprint("onsite", __name__)

#: Plans are named by their content hash: a name never shows other content.
PLAN_MAX_AGE = 365 * 24 * 3600
#: Empty question rows the form offers below the filled ones.
EMPTY_ROWS = 3


class VenueHelpForm(FlaskForm):
    """Whom to ask on site; the questions are rows faq-<n>-q / faq-<n>-a of the same form."""

    contact = StringField(_l("Who helps on site"), validators=[
        Optional(), Length(max=onsite.LIMITS["contact"])],
        description=_l("Shown with the phone number, e.g. “Service desk at the north "
                       "entrance”."))
    phone = StringField(_l("Help phone number"), validators=[
        Optional(), Length(max=onsite.LIMITS["phone"])],
        description=_l("Attendees call it with one tap."), render_kw={"type": "tel"})
    fingerprint = HiddenField()


class FloorPlanForm(FlaskForm):
    image = FileField(_l("New floor plan"),
                      validators=[FileRequired(_l("Choose an image file first."))],
                      description=_l("JPEG, PNG or WebP. Checked-in attendees see it on their "
                                     "ticket page and can zoom into it."),
                      render_kw={"accept": ACCEPTED_IMAGES})


def _faq_rows(event: Event) -> list[dict[str, str]]:
    """The rows the form shows: as sent (after a refused save) or as stored, plus empty ones."""
    if request.method == "POST" and "fingerprint" in request.form:
        rows = [{"q": q, "a": a} for q, a in _sent_faq()]
    else:
        rows = [{"q": item.question, "a": item.answer}
                for item in onsite.venue_help_of(event).faq]
    spare = max(0, min(EMPTY_ROWS, onsite.MAX_FAQ - len(rows)))
    return rows + [{"q": "", "a": ""} for _ in range(spare)]


def _sent_faq() -> list[tuple[str, str]]:
    count = sum(1 for key in request.form if key.startswith("faq-") and key.endswith("-q"))
    return [(request.form.get(f"faq-{n}-q", ""), request.form.get(f"faq-{n}-a", ""))
            for n in range(min(count, onsite.MAX_FAQ + EMPTY_ROWS))]


def _page(event: Event, form: VenueHelpForm | None = None,
          plan_form: FloorPlanForm | None = None,
          faq_errors: dict[str, list[str]] | None = None, status: int = 200) -> tuple[str, int]:
    help_ = onsite.venue_help_of(event)
    form = form or VenueHelpForm(data={"contact": help_.contact, "phone": help_.phone},
                                 formdata=None)
    form.fingerprint.data = form.fingerprint.data or onsite.help_fingerprint(event)
    return render_template(
        "checkin/venue_help.html", event=event, form=form, faq_rows=_faq_rows(event),
        faq_errors=faq_errors or {}, plan_form=plan_form or FloorPlanForm(formdata=None),
        halls=onsite.halls_of(event), PointKind=PointKind, limits=onsite.LIMITS,
        points_url=(url_for("checkin_setup.points", slug=event.slug)
                    if "checkin_setup.points" in current_app.view_functions else None),
        plan_max_bytes=current_app.config["COVER_MAX_MB"],
        plan_too_large=too_large_message(current_app.config["COVER_MAX_MB"]),
        **onsite.setup_frame("onsite")), status


def _back(event: Event, anchor: str = "") -> Response:
    return redirect(url_for("onsite.venue_help", slug=event.slug) + anchor, 303)


@bp.route("/events/<slug>/checkin/venue-help", methods=["GET", "POST"])
@login_required
@event_role_required(*SETUP_ROLES)
def venue_help(event: Event) -> Any:
    form = VenueHelpForm()
    if not form.validate_on_submit():
        return _page(event, form if form.is_submitted() else None,
                     status=422 if form.is_submitted() else 200)
    try:
        onsite.save_venue_help(event, faq=_sent_faq(), contact=form.contact.data or "",
                               phone=form.phone.data or "", fingerprint=form.fingerprint.data)
    except ValidationFailed as error:
        db.session.rollback()
        show_error_on_form(form, error)
        faq_errors = {key: value for key, value in error.details.items()
                      if key.startswith("faq")}
        if faq_errors:
            flash(str(error.message), "error")
        return _page(event, form, faq_errors=faq_errors, status=422)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return _back(event, "#help")
    db.session.commit()
    flash(_("The on-site help is saved."), "success")
    return _back(event, "#help")


# --- the floor plan ----------------------------------------------------------------------------

def _prepare_plan(form: FloorPlanForm) -> PreparedCover | DomainError | None:
    if not form.validate_on_submit():
        return None
    try:
        return prepare_cover(form.image.data.stream,
                             current_app.config["COVER_MAX_MB"])
    except ValidationFailed as error:
        return error


@bp.post("/events/<slug>/checkin/venue-help/floor-plan")
def upload_floor_plan(slug: str) -> Any:
    """The picture is checked and re-encoded before this request's first database query (a
    POST holds SQLite's write lock from its first query to its commit); only a signed-in
    session gets that far, and its role is checked right after, before anything is stored."""
    form = FloorPlanForm()
    outcome = _prepare_plan(form) if "_user_id" in session else None
    return _save_plan(slug=slug, form=form, outcome=outcome)


@login_required
@event_role_required(*SETUP_ROLES)
def _save_plan(event: Event, form: FloorPlanForm,
               outcome: PreparedCover | DomainError | None) -> Any:
    if outcome is None and not form.errors:  # signed in by the remember-me cookie just now
        outcome = _prepare_plan(form)
    if isinstance(outcome, PreparedCover):
        prepared = outcome
        saved, previous = commit_or_show_error(form, lambda: onsite.set_floor_plan(event,
                                                                                   prepared))
        if saved:
            onsite.discard_floor_plan_file(previous)
            flash(_("The new floor plan is saved."), "success")
            return _back(event, "#floor-plan")
    elif isinstance(outcome, DomainError):
        show_error_on_form(form, outcome)
    return _page(event, plan_form=form, status=422)


@bp.errorhandler(RequestEntityTooLarge)
def _upload_too_large(error: RequestEntityTooLarge) -> Any:
    """A plan over the site's upload limit (MAX_UPLOAD_MB) never reaches the view."""
    if request.endpoint != "onsite.upload_floor_plan" or not request.view_args:
        return handle_http_exception(error)
    flash(str(too_large_message(current_app.config["COVER_MAX_MB"])), "error")
    return redirect(url_for("onsite.venue_help", slug=request.view_args["slug"])
                    + "#floor-plan", 303)


@bp.post("/events/<slug>/checkin/venue-help/floor-plan/remove")
@login_required
@event_role_required(*SETUP_ROLES)
def remove_floor_plan(event: Event) -> Response:
    removed, previous = commit_or_flash_error(lambda: onsite.remove_floor_plan(event))
    if removed:
        onsite.discard_floor_plan_file(previous)
        flash(_("The floor plan is removed."), "success")
    return _back(event, "#floor-plan")


@bp.get("/events/<slug>/floor-plan/<filename>")
def floor_plan(slug: str, filename: str) -> Response:
    """The event's floor plan, for everyone (checked-in attendees' ticket pages show it)."""
    path = onsite.floor_plan_file(slug, filename)
    response = send_from_directory(path.parent, path.name, mimetype="image/jpeg",
                                   max_age=PLAN_MAX_AGE, conditional=True)
    response.cache_control.immutable = True
    return response
