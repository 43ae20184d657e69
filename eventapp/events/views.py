"""Pages of the back office and the staff tablet: my events, an event's overview, channels,
team, the gate and the people list. Each view: parse, one service call, render."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from eventapp.core.activity import activity_label
from eventapp.core.forms import commit_or_flash_error, commit_or_show_error
from eventapp.core.inputs import whole_number
from eventapp.events import labels, services
from eventapp.events.access import (PEOPLE_ROLES, SETUP_ROLES, admin_required,
                                    areas_for, event_role_required, home_area)
from eventapp.events.forms import ChannelForm, EventForm, MemberForm
from eventapp.events.models import Event, RegistrationStatus

bp = Blueprint("events", __name__)


@bp.app_context_processor
def _event_page_helpers() -> dict[str, Any]:
    """What event pages need to show areas and values in the reader's words."""
    return {"areas_for": areas_for, "home_area": home_area, "labels": labels,
            "activity_label": activity_label}


@bp.get("/")
@login_required
def home() -> str:
    events = services.events_of(current_user)
    figures = services.summaries([event.id for event, _role in events])
    return render_template("events/home.html", events=events, figures=figures)


@bp.route("/events/new", methods=["GET", "POST"])
@login_required
@admin_required
def new_event() -> str | Response:
    form = EventForm(timezone=current_app.config["DEFAULT_TIMEZONE"],
                     currency=current_app.config["DEFAULT_CURRENCY"])
    if form.validate_on_submit():
        saved, event = commit_or_show_error(form, lambda: services.create_event(
            title=form.title.data, slug=form.slug.data.strip().lower(),
            starts_at=form.starts_at.data, ends_at=form.ends_at.data,
            timezone=form.timezone.data.strip(), venue=form.venue.data or "",
            address=form.address.data or "", capacity=form.capacity.data,
            currency=form.currency.data.upper(), creator=current_user))
        if saved:
            flash(_("The event is created as a draft."), "success")
            return redirect(url_for("events.overview", slug=event.slug))
    return render_template("events/new.html", form=form)


@bp.get("/events/<slug>/")
@login_required
@event_role_required(*SETUP_ROLES)
def overview(event: Event) -> str:
    return render_template(
        "events/overview.html", event=event, summary=services.summaries([event.id])[event.id],
        channels=services.channel_figures(event), activity=services.recent_activity(event))


@bp.route("/events/<slug>/channels", methods=["GET", "POST"])
@login_required
@event_role_required(*SETUP_ROLES)
def channels(event: Event) -> str | Response:
    form = ChannelForm()
    if form.validate_on_submit():
        saved, channel = commit_or_show_error(form, lambda: services.create_channel(
            event, name=form.name.data, kind=form.kind.data, code=form.code.data,
            spend=form.spend.data))
        if saved:
            flash(_("Channel %(name)s added.", name=channel.name), "success")
            return redirect(url_for("events.channels", slug=event.slug))
    return render_template("events/channels.html", event=event, form=form,
                           channels=services.channel_figures(event))


@bp.route("/events/<slug>/channels/<int:channel_id>", methods=["GET", "POST"])
@login_required
@event_role_required(*SETUP_ROLES)
def edit_channel(event: Event, channel_id: int) -> str | Response:
    channel = services.get_channel(event, channel_id)
    form = ChannelForm(obj=channel)
    if form.validate_on_submit():
        saved, _channel = commit_or_show_error(form, lambda: services.update_channel(
            event, channel.id, name=form.name.data, kind=form.kind.data,
            code=form.code.data or channel.code, spend=form.spend.data))
        if saved:
            flash(_("Channel saved."), "success")
            return redirect(url_for("events.channels", slug=event.slug))
    return render_template("events/channel_edit.html", event=event, form=form, channel=channel)


@bp.route("/events/<slug>/team", methods=["GET", "POST"])
@login_required
@event_role_required(*SETUP_ROLES)
def team(event: Event) -> str | Response:
    form = MemberForm()
    if form.validate_on_submit():
        saved, _member = commit_or_show_error(
            form, lambda: services.add_member(event, form.email.data, form.role.data))
        if saved:
            flash(_("The team is updated."), "success")
            return redirect(url_for("events.team", slug=event.slug))
    return render_template("events/team.html", event=event, form=form,
                           members=services.team_of(event))


@bp.post("/events/<slug>/team/<int:membership_id>/remove")
@login_required
@event_role_required(*SETUP_ROLES)
def remove_member(event: Event, membership_id: int) -> Response:
    removed, _none = commit_or_flash_error(lambda: services.remove_member(event, membership_id))
    if removed:
        flash(_("Removed from the team."), "success")
    return redirect(url_for("events.team", slug=event.slug))


@bp.get("/events/<slug>/gate")
def gate(slug: str) -> Response:
    """The gate moved to the check-in page; old bookmarks on the tablets still work."""
    return redirect(url_for("checkin.gate", slug=slug))


@bp.get("/events/<slug>/people")
@login_required
@event_role_required(*PEOPLE_ROLES)
def people(event: Event) -> str:
    search = request.args.get("q", "")[:100]
    status = request.args.get("status") or None
    if status not in {s.value for s in RegistrationStatus}:
        status = None
    page = services.find_attendees(event, search, status=status,
                                   page=request.args.get("page", 1, type=whole_number))
    return render_template("events/people.html", event=event, page=page, search=search,
                           status=status)
