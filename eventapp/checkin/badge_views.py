"""Printable PDF badges, one person's (the gate's result screen) or the whole event's (a job
with a progress bar, for marketing)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from eventapp.checkin import badges
from eventapp.checkin.onsite import setup_frame
from eventapp.core.database import writes_database
from eventapp.core.queue import start_job
from eventapp.events.access import GATE_ROLES, SETUP_ROLES, event_role_required
from eventapp.events.models import Event
from eventapp.events.services import confirmed_count
from eventapp.extensions import db

bp = Blueprint("badges", __name__)


def _pdf(data: bytes, filename: str, *, attachment: bool) -> Response:
    """A PDF with people's names in it: never kept in a shared cache."""
    response = Response(data, mimetype="application/pdf")
    kind = "attachment" if attachment else "inline"
    response.headers["Content-Disposition"] = f'{kind}; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/events/<slug>/checkin/badges/<int:registration_id>.pdf")
@login_required
@event_role_required(*GATE_ROLES)
@writes_database  # signs a ticket issued before its event had a key
def badge(event: Event, registration_id: int) -> Response:
    registration = badges.registration_for_badge(event, registration_id)
    badge_data = badges.badge_for(registration)
    title = event.title
    db.session.commit()  # end the transaction before drawing (SQLite's write lock)
    pdf = badges.draw_badges(title, [badge_data], sheets=False)
    return _pdf(pdf, f"badge-{registration_id}.pdf", attachment=False)


def _batch_page(event: Event) -> str:
    return render_template(
        "checkin/badges_batch.html", event=event, confirmed=confirmed_count(event),
        jobs=badges.batches_of(event, current_user.id), order_labels=badges.ORDER_LABELS,
        per_sheet=badges.BADGES_PER_SHEET, keep_days=badges.BATCH_KEEP_DAYS,
        **setup_frame("badges"))


@bp.get("/events/<slug>/checkin/badges")
@login_required
@event_role_required(*SETUP_ROLES)
def batch_page(event: Event) -> str:
    return _batch_page(event)


@bp.post("/events/<slug>/checkin/badges")
@login_required
@event_role_required(*SETUP_ROLES)
def start_batch(event: Event) -> Response:
    order = request.form.get("order", "")
    if order not in badges.BadgeOrder._value2member_map_:
        order = badges.BadgeOrder.NAME.value
    if not confirmed_count(event):
        flash(str(badges.NobodyToBadge.default_message), "error")
        return redirect(url_for("badges.batch_page", slug=event.slug), 303)
    badges.discard_old_batches(event)
    start_job(badges.make_badges_task, badges.JOB_KIND, event.id, order,
              user_id=current_user.id, event_id=event.id)
    flash(_("The badges are being drawn; the download link appears when the bar is full."),
          "success")
    return redirect(url_for("badges.batch_page", slug=event.slug), 303)


@bp.get("/events/<slug>/checkin/badges/batches/<job_id>.pdf")
@login_required
@event_role_required(*SETUP_ROLES)
def batch_download(event: Event, job_id: str) -> Any:
    path = badges.batch_file(event, job_id)
    db.session.rollback()
    response = send_file(path, mimetype="application/pdf", as_attachment=True,
                         download_name=f"badges-{event.slug}.pdf", max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response
