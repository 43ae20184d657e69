"""Marketing's set-up of an event: details, cover image, agenda, booking form, publishing."""

from __future__ import annotations

from flask import Blueprint, render_template

from eventapp.events.access import SETUP_ROLES, event_role_required
from eventapp.events.models import Event
from flask_login import login_required

bp = Blueprint("setup", __name__)


@bp.get("/events/<slug>/setup")
@login_required
@event_role_required(*SETUP_ROLES)
def details(event: Event) -> str:
    return render_template("events/overview.html", event=event)  # placeholder: being built
