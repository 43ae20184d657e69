"""Marketing's invitations to a segment of the pool, and the unsubscribe link in them."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from eventapp.events.access import SETUP_ROLES, event_role_required
from eventapp.events.models import Event

bp = Blueprint("mailings", __name__)


@bp.get("/events/<slug>/invitations")
@login_required
@event_role_required(*SETUP_ROLES)
def index(event: Event) -> str:
    return render_template("events/overview.html", event=event)  # placeholder: being built
