"""Marketing's set-up of an event: details, cover image, agenda, booking form, publishing.
Each view parses, calls one service (events/setup.py, events/form_builder.py) and commits or
shows the error."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import (Blueprint, current_app, flash, redirect, render_template, request,
                   send_from_directory, session, url_for)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from eventapp.core.errors import DomainError, ValidationFailed, handle_http_exception
from eventapp.core.forms import commit_or_flash_error, commit_or_show_error, show_error_on_form
from eventapp.core.time import in_zone
from eventapp.events import form_builder, setup
from eventapp.events.access import SETUP_ROLES, event_role_required
from eventapp.events.booking_form import (FIELD_LABELS, MODE_LABELS, QUESTION_KIND_LABELS,
                                          FieldMode, QuestionKind)
from eventapp.events.cover_images import PreparedCover, prepare_cover, too_large_message
from eventapp.events.models import Event, EventStatus
from eventapp.events.setup_forms import (AgendaItemForm, CoverForm, DetailsForm, FieldModesForm,
                                         QuestionForm)
from eventapp.invites.links import invitation_url

bp = Blueprint("setup", __name__)

#: Covers are named by their content hash: a name never shows other content, so caches may
#: keep it for a year.
COVER_MAX_AGE = 365 * 24 * 3600
#: The set-up's sub-pages (their tabs), which a publish button may send the person back to.
PAGES = {"details": "setup.details", "agenda": "setup.agenda", "form": "setup.booking_form"}
#: Which sub-page each view shows (the rest show the details page).
PAGE_OF_VIEW = {"setup.agenda": "agenda", "setup.edit_agenda_item": "agenda",
                "setup.booking_form": "form", "setup.add_question": "form",
                "setup.edit_question": "form"}


@bp.context_processor
def _setup_page_helpers() -> dict[str, Any]:
    """Every set-up page belongs to the "Set-up" tab, and shows the state of publishing."""
    return {"current_area": "setup.details", "publish_problems": setup.publish_problems,
            "invitation_url": invitation_url, "EventStatus": EventStatus,
            "setup_page": PAGE_OF_VIEW.get(request.endpoint or "", "details")}


def _back_to_details(event: Event, anchor: str = "") -> Response:
    return redirect(url_for("setup.details", slug=event.slug) + anchor)


# --- details ------------------------------------------------------------------------------

def _local(moment: datetime | None, event: Event) -> datetime | None:
    return in_zone(moment, event.timezone).replace(tzinfo=None) if moment else None


def _degrees(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")


def _details_values(event: Event) -> dict[str, Any]:
    """The event's details as the form shows them (times in the event's timezone)."""
    values: dict[str, Any] = {name: getattr(event, name) for name in setup.TEXT_LIMITS}
    values.update(starts_at=_local(event.starts_at, event), ends_at=_local(event.ends_at, event),
                  booking_deadline=_local(event.booking_deadline, event),
                  capacity=event.capacity, latitude=_degrees(event.latitude),
                  longitude=_degrees(event.longitude))
    return values


def _details_of(form: DetailsForm) -> setup.EventDetails:
    values = {name: form[name].data or "" for name in setup.TEXT_LIMITS}
    return setup.EventDetails(
        starts_at=form.starts_at.data, ends_at=form.ends_at.data,
        booking_deadline=form.booking_deadline.data, capacity=form.capacity.data,
        latitude=form.latitude.data, longitude=form.longitude.data, **values)


def _details_page(event: Event, form: DetailsForm | None = None,
                  cover_form: CoverForm | None = None) -> str:
    return render_template(
        "events/setup/details.html", event=event,
        form=form or DetailsForm(data=_details_values(event), formdata=None),
        cover_form=cover_form or CoverForm(formdata=None), confirmed=setup.confirmed_count(event),
        cover_max_bytes=current_app.config["COVER_MAX_MB"],
        cover_too_large=too_large_message(current_app.config["COVER_MAX_MB"]))


def _flash_capacity(result: setup.DetailsSaved) -> None:
    if result.promoted:
        flash(ngettext("%(num)d person moved up from the waiting list and is sent a ticket.",
                       "%(num)d people moved up from the waiting list and are sent tickets.",
                       result.promoted), "success")
    if result.over_capacity:
        flash(ngettext("%(num)d more person is confirmed than the new capacity allows. Nobody "
                       "loses their place; new bookings go to the waiting list until places "
                       "free up.",
                       "%(num)d more people are confirmed than the new capacity allows. Nobody "
                       "loses their place; new bookings go to the waiting list until places "
                       "free up.", result.over_capacity), "info")


@bp.route("/events/<slug>/setup", methods=["GET", "POST"])
@login_required
@event_role_required(*SETUP_ROLES)
def details(event: Event) -> str | Response:
    form = DetailsForm(data=_details_values(event))
    if form.validate_on_submit():
        saved, result = commit_or_show_error(
            form, lambda: setup.update_details(event, _details_of(form)))
        if saved and result is not None:
            flash(_("The details are saved."), "success")
            _flash_capacity(result)
            return _back_to_details(event)
    if form.errors:  # a long page: say so at the top too
        flash(_("Nothing was saved yet: correct the fields marked in red below."), "error")
    return _details_page(event, form=form)


# --- the cover image ----------------------------------------------------------------------

def _prepare_cover(form: CoverForm) -> PreparedCover | DomainError | None:
    """The sent picture checked and re-encoded, the reason it was refused, or None when the
    form itself is wrong (no file: the form shows why)."""
    if not form.validate_on_submit():
        return None
    try:
        return prepare_cover(form.image.data.stream, current_app.config["COVER_MAX_MB"])
    except ValidationFailed as error:
        return error


@bp.post("/events/<slug>/setup/cover")
def upload_cover(slug: str) -> str | Response:
    """The picture is checked and re-encoded before this request's first database query (a
    POST holds SQLite's write lock from its first query to its commit). Only a signed-in
    session gets that far; its role on the event is checked right after, before anything is
    stored."""
    form = CoverForm()
    outcome = _prepare_cover(form) if "_user_id" in session else None
    return _save_cover(slug=slug, form=form, outcome=outcome)


@login_required
@event_role_required(*SETUP_ROLES)
def _save_cover(event: Event, form: CoverForm,
                outcome: PreparedCover | DomainError | None) -> str | Response:
    if outcome is None and not form.errors:  # signed in by the remember-me cookie just now
        outcome = _prepare_cover(form)
    if isinstance(outcome, PreparedCover):
        prepared = outcome
        saved, previous = commit_or_show_error(form, lambda: setup.set_cover(event, prepared))
        if saved:
            setup.discard_cover_file(previous)
            flash(_("The new cover image is saved."), "success")
            return _back_to_details(event, "#cover")
    elif isinstance(outcome, DomainError):
        show_error_on_form(form, outcome)
    return _details_page(event, cover_form=form)


@bp.errorhandler(RequestEntityTooLarge)
def _upload_too_large(error: RequestEntityTooLarge) -> Any:
    """A cover over the site's upload limit (MAX_UPLOAD_MB) never reaches the view: say so on
    the set-up page instead of an error page."""
    if request.endpoint != "setup.upload_cover" or not request.view_args:
        return handle_http_exception(error)
    flash(str(too_large_message(current_app.config["COVER_MAX_MB"])), "error")
    return redirect(url_for("setup.details", slug=request.view_args["slug"]) + "#cover", 303)


@bp.post("/events/<slug>/setup/cover/remove")
@login_required
@event_role_required(*SETUP_ROLES)
def remove_cover(event: Event) -> Response:
    removed, previous = commit_or_flash_error(lambda: setup.remove_cover(event))
    if removed:
        setup.discard_cover_file(previous)
        flash(_("The cover image is removed."), "success")
    return _back_to_details(event, "#cover")


@bp.get("/events/<slug>/cover/<filename>")
def cover(slug: str, filename: str) -> Response:
    """The event's cover image, for everyone (the invitation page shows it)."""
    path = setup.cover_file(slug, filename)
    response = send_from_directory(path.parent, path.name, mimetype="image/jpeg",
                                   max_age=COVER_MAX_AGE, conditional=True)
    response.cache_control.immutable = True
    return response


# --- agenda -------------------------------------------------------------------------------

def _agenda_page(event: Event, failed: tuple[int, AgendaItemForm] | None = None,
                 new: AgendaItemForm | None = None) -> str:
    items = []
    for position, item in enumerate(event.agenda or []):
        if failed and failed[0] == position:
            form = failed[1]
        else:
            form = AgendaItemForm(prefix=f"item{position}", data=item, formdata=None)
        items.append((position, item, setup.agenda_fingerprint(item), form))
    return render_template("events/setup/agenda.html", event=event, items=items,
                           new=new or AgendaItemForm(prefix="new", formdata=None),
                           max_items=setup.MAX_AGENDA_ITEMS)


def _back_to_agenda(event: Event) -> Response:
    return redirect(url_for("setup.agenda", slug=event.slug))


@bp.route("/events/<slug>/setup/agenda", methods=["GET", "POST"])
@login_required
@event_role_required(*SETUP_ROLES)
def agenda(event: Event) -> str | Response:
    form = AgendaItemForm(prefix="new")
    if form.validate_on_submit():
        saved, _none = commit_or_show_error(form, lambda: setup.add_agenda_item(
            event, time=form.time.data, title=form.title.data, speaker=form.speaker.data))
        if saved:
            flash(_("Added to the agenda."), "success")
            return _back_to_agenda(event)
    return _agenda_page(event, new=form if form.is_submitted() else None)


@bp.post("/events/<slug>/setup/agenda/<int:position>")
@login_required
@event_role_required(*SETUP_ROLES)
def edit_agenda_item(event: Event, position: int) -> str | Response:
    form = AgendaItemForm(prefix=f"item{position}")
    if form.validate_on_submit():
        saved, _none = commit_or_show_error(form, lambda: setup.update_agenda_item(
            event, position, request.form.get("fingerprint", ""), time=form.time.data,
            title=form.title.data, speaker=form.speaker.data))
        if saved:
            flash(_("The agenda item is saved."), "success")
            return _back_to_agenda(event)
    return _agenda_page(event, failed=(position, form))


@bp.post("/events/<slug>/setup/agenda/<int:position>/move")
@login_required
@event_role_required(*SETUP_ROLES)
def move_agenda_item(event: Event, position: int) -> Response:
    commit_or_flash_error(lambda: setup.move_agenda_item(
        event, position, request.form.get("fingerprint", ""), request.form.get("direction", "")))
    return _back_to_agenda(event)


@bp.post("/events/<slug>/setup/agenda/<int:position>/remove")
@login_required
@event_role_required(*SETUP_ROLES)
def remove_agenda_item(event: Event, position: int) -> Response:
    removed, _none = commit_or_flash_error(lambda: setup.remove_agenda_item(
        event, position, request.form.get("fingerprint", "")))
    if removed:
        flash(_("Removed from the agenda."), "success")
    return _back_to_agenda(event)


# --- the booking form ---------------------------------------------------------------------

def _form_page(event: Event, modes: FieldModesForm | None = None,
               new: QuestionForm | None = None) -> str:
    spec = form_builder.booking_form_of(event)
    modes = modes or FieldModesForm(data={n: m.value for n, m in spec.fields.items()},
                                    formdata=None)
    return render_template(
        "events/setup/booking_form.html", event=event, spec=spec, modes=modes,
        new=new or QuestionForm(prefix="new", formdata=None), **_form_labels(),
        bookings=form_builder.booking_count(event))


def _form_labels() -> dict[str, Any]:
    return {"field_labels": FIELD_LABELS, "mode_labels": MODE_LABELS,
            "kind_labels": QUESTION_KIND_LABELS, "FieldMode": FieldMode,
            "QuestionKind": QuestionKind}


def _back_to_form(event: Event, anchor: str = "") -> Response:
    return redirect(url_for("setup.booking_form", slug=event.slug) + anchor)


@bp.route("/events/<slug>/setup/form", methods=["GET", "POST"])
@login_required
@event_role_required(*SETUP_ROLES)
def booking_form(event: Event) -> str | Response:
    form = FieldModesForm()
    if form.validate_on_submit():
        saved, _spec = commit_or_show_error(form, lambda: form_builder.set_field_modes(
            event, {name: form[name].data for name in form_builder.booking_form_of(event).fields}))
        if saved:
            flash(_("The booking form's fields are saved."), "success")
            return _back_to_form(event)
    return _form_page(event, modes=form if form.is_submitted() else None)


@bp.post("/events/<slug>/setup/form/questions")
@login_required
@event_role_required(*SETUP_ROLES)
def add_question(event: Event) -> str | Response:
    form = QuestionForm(prefix="new")
    if form.validate_on_submit():
        saved, question = commit_or_show_error(form, lambda: form_builder.add_question(
            event, kind=form.kind.data, label=form.label.data, options=form.options.data or "",
            required=form.required.data))
        if saved and question is not None:
            flash(_("Question added. The preview shows it as attendees will see it."),
                  "success")
            return _back_to_form(event, f"#question-{question.key}")
    return _form_page(event, new=form)


@bp.route("/events/<slug>/setup/form/questions/<key>", methods=["GET", "POST"])
@login_required
@event_role_required(*SETUP_ROLES)
def edit_question(event: Event, key: str) -> str | Response:
    question = form_builder.question_of(event, key)
    form = QuestionForm(data={**question.to_json(), "options": "\n".join(question.options)})
    if form.validate_on_submit():
        saved, _question = commit_or_show_error(form, lambda: form_builder.update_question(
            event, key, kind=form.kind.data, label=form.label.data,
            options=form.options.data or "", required=form.required.data))
        if saved:
            flash(_("The question is saved."), "success")
            return _back_to_form(event, f"#question-{key}")
    return render_template("events/setup/question.html", event=event, question=question,
                           form=form, bookings=form_builder.booking_count(event), **_form_labels())


@bp.post("/events/<slug>/setup/form/questions/<key>/move")
@login_required
@event_role_required(*SETUP_ROLES)
def move_question(event: Event, key: str) -> Response:
    commit_or_flash_error(lambda: form_builder.move_question(event, key,
                                                      request.form.get("direction", "")))
    return _back_to_form(event, f"#question-{key}")


@bp.post("/events/<slug>/setup/form/questions/<key>/remove")
@login_required
@event_role_required(*SETUP_ROLES)
def remove_question(event: Event, key: str) -> Response:
    removed, _question = commit_or_flash_error(lambda: form_builder.remove_question(event, key))
    if removed:
        flash(_("The question is removed. Answers already given to it are kept."), "success")
    return _back_to_form(event)


# --- publishing ---------------------------------------------------------------------------

def _back_to_page(event: Event) -> Response:
    endpoint = PAGES.get(request.form.get("back", ""), "setup.details")
    return redirect(url_for(endpoint, slug=event.slug))


@bp.post("/events/<slug>/setup/publish")
@login_required
@event_role_required(*SETUP_ROLES)
def publish(event: Event) -> Response:
    published, _none = commit_or_flash_error(lambda: setup.publish(event))
    if published:
        flash(_("The event is published. Share the invitation link below, or through your "
                "channels."), "success")
    return _back_to_page(event)


@bp.post("/events/<slug>/setup/unpublish")
@login_required
@event_role_required(*SETUP_ROLES)
def unpublish(event: Event) -> Response:
    done, _none = commit_or_flash_error(lambda: setup.unpublish(event))
    if done:
        flash(_("The event is back to draft: its invitation page is closed to the public. "
                "Bookings made so far are kept."), "success")
    return _back_to_page(event)
