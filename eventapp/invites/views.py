"""Attendee pages on phones: the invitation, the booking form, the ticket. Public: no login.

Every page works without JavaScript (WeChat's in-app browser, old phones) and makes no
request outside the app. Invitation and ticket views are written to the behaviour log with an
anonymous visitor id kept in a cookie of its own, so visitors per channel can be counted.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from babel.dates import format_skeleton, format_time, get_timezone_gmt
from flask import (Blueprint, Response, current_app, flash, make_response, redirect,
                   render_template, request, session, url_for)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from eventapp.checkin.onsite import onsite_guide
from eventapp.core.database import reads_first, writes_database
from eventapp.core.errors import (HTTP_MESSAGES, DomainError, NotFound, ValidationFailed,
                                  handle_domain_error, handle_http_exception, wants_json)
from eventapp.core.forms import commit_or_flash_error
from eventapp.core.i18n import current_locale_code
from eventapp.core.time import in_zone, utcnow, zone
from eventapp.events.booking_form import BookingFormSpec, booking_form_helpers
from eventapp.events.models import Channel, Event, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites import models as _models  # noqa: F401  (the mailings table)
from eventapp.invites.attendee import (Invitation, countdown, is_on_team, is_public,
                                       mask_email, mask_phone, open_invitation,
                                       record_invitation_view, record_message_click,
                                       record_ticket_view, waitlist_position)
from eventapp.invites.booking import (BookingClosed, BookingRequest, book_and_commit,
                                      booking_open, cancel_registration, registration_by_token,
                                      ticket_code)
from eventapp.invites.calendar import booking_calendar
from eventapp.invites.links import invitation_url, read_message_ref
from eventapp.invites.qrcodes import qr_png, qr_svg

bp = Blueprint("invites", __name__)

VISITOR_COOKIE = "eventapp_vid"
VISITOR_COOKIE_SECONDS = 365 * 24 * 3600
#: Session keys, each one small fixed-size value (the session is a cookie): this browser's
#: latest booking [slug, ticket token], and where a ticket was just sent again.
LAST_TICKET = "ticket"
SENT_AGAIN = "sent_again"

# --- small helpers ----------------------------------------------------------------------

def _visitor() -> tuple[str, bool]:
    """This browser's anonymous visitor id, and whether it is new (the cookie is then set)."""
    try:
        return str(uuid.UUID(request.cookies.get(VISITOR_COOKIE, ""))), False
    except ValueError:
        return str(uuid.uuid4()), True


def _known_visitor() -> str | None:
    visitor, new = _visitor()
    return None if new else visitor


def _private(response: Response, visitor: str | None = None) -> Response:
    """A secret page (a CSRF token, a ticket): never stored by a browser or proxy cache.
    Also sets the visitor cookie when `visitor` is a new id."""
    response.headers["Cache-Control"] = "no-store"
    if visitor is not None:
        response.set_cookie(VISITOR_COOKIE, visitor, max_age=VISITOR_COOKIE_SECONDS,
                            httponly=True, samesite="Lax",
                            secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


def _text(values: Any, name: str, limit: int) -> str | None:
    value = (values.get(name) or "").strip()
    return value[:limit] or None


def _booking_key() -> str | None:
    """The form's one-time key, if it is one (a uuid4 made when the page was shown)."""
    try:
        return str(uuid.UUID(request.form.get("booking_key", "")))
    except ValueError:
        return None


def _optional_url(endpoint: str, **values: Any) -> str | None:
    """The URL of a page that another part of the app may not provide yet (None then)."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


def _safe_map_url(url: str) -> str | None:
    return url if url.lower().startswith(("https://", "http://")) else None


def time_range(event: Event) -> str:
    """"Sat, Dec 12, 2026 9:30 AM – 5:30 PM (GMT+08:00)", in the event's timezone."""
    locale, tz = get_locale(), zone(event.timezone)
    start, end = event.starts_at, event.ends_at
    day = format_skeleton("yMMMEd", start, tzinfo=tz, locale=locale)
    text = f"{day} {format_time(start, 'short', tzinfo=tz, locale=locale)} – "
    if in_zone(start, event.timezone).date() != in_zone(end, event.timezone).date():
        text += format_skeleton("MMMEd", end, tzinfo=tz, locale=locale) + " "
    text += format_time(end, "short", tzinfo=tz, locale=locale)
    gmt = get_timezone_gmt(start.astimezone(tz), "long", locale=locale)
    return f"{text} ({gmt})"


@bp.context_processor
def _attendee_helpers() -> dict[str, Any]:
    return {"time_range": time_range, "RegistrationStatus": RegistrationStatus,
            **booking_form_helpers()}


# --- the invitation -----------------------------------------------------------------------

def _link_codes(values: Any) -> tuple[str | None, str | None]:
    """The channel code (?c=) and the share code (?r=) of the link the visitor came by."""
    return _text(values, "c", 32), _text(values, "r", 16)


def _render_invitation(invitation: Invitation, channel_code: str | None,
                       share_code: str | None, *, preview: bool = False,
                       values: dict[str, list[str]] | None = None,
                       errors: dict[str, list[str]] | None = None,
                       booking_key: str | None = None) -> str:
    """The invitation page; after a refused booking, with the values sent and the errors."""
    event = invitation.event
    last = session.get(LAST_TICKET)
    my_ticket = (url_for("invites.ticket", token=last[1])
                 if isinstance(last, list) and len(last) == 2 and last[0] == event.slug
                 else None)
    return render_template(
        "invites/invitation.html", invitation=invitation, event=event, preview=preview,
        spec=BookingFormSpec.from_json(event.booking_form), can_book=booking_open(event),
        countdown=countdown(event), now_ms=int(utcnow().timestamp() * 1000),
        values=values or {}, errors=errors or {}, booking_key=booking_key or str(uuid.uuid4()),
        channel_code=channel_code or "", share_code=share_code or "", my_ticket=my_ticket,
        map_url=_safe_map_url(event.map_url),
        cover_url=(_optional_url("setup.cover", slug=event.slug, filename=event.cover_image)
                   if event.cover_image else None),
        lang_next=url_for("invites.invitation", slug=event.slug, c=channel_code, r=share_code))


@bp.get("/e/<slug>")
@writes_database
def invitation(slug: str) -> Response:
    current_locale_code()  # chosen now, inside the transaction (a team member's setting)
    channel_code, share_code = _link_codes(request.args)
    page = open_invitation(slug, channel_code, share_code)
    preview = not is_public(page.event)
    if preview and not is_on_team(current_user, page.event):
        raise NotFound()
    visitor, new_visitor = _visitor()
    if not preview and request.method == "GET":  # not the team's previews, not link checkers
        message_id = read_message_ref(request.args.get("m"))
        contact_id = (record_message_click(page.event, message_id, visitor_id=visitor,
                                           channel_id=page.channel_id)
                      if message_id else None)
        record_invitation_view(page, visitor, contact_id)
    db.session.commit()
    response = make_response(_render_invitation(page, channel_code, share_code,
                                                 preview=preview))
    return _private(response, visitor if new_visitor else None)


@bp.get("/e/<slug>/book")
def book_page(slug: str) -> Response:
    """The booking form's address opened directly (a reload, a bookmark): the invitation."""
    return redirect(url_for("invites.invitation", slug=slug, _anchor="book"))


#: The event a booking is for, without the long texts and lists a booking does not read (a
#: page shown again after a mistake loads them when it needs them), and the id of the
#: channel whose code the link carried (NULL if none): one query.
_EVENT_TO_BOOK = (
    sa.select(Event, Channel.id)
    .outerjoin(Channel, sa.and_(Channel.event_id == Event.id,
                                Channel.code == sa.bindparam("code")))
    .where(Event.slug == sa.bindparam("slug")).options(
        sa.orm.defer(Event.description), sa.orm.defer(Event.transport_notes),
        sa.orm.defer(Event.agenda), sa.orm.defer(Event.weather_note),
        sa.orm.defer(Event.privacy_text), sa.orm.defer(Event.venue_help)))


@bp.post("/e/<slug>/book")
@reads_first  # validation and lookups before the write lock (booking.book: start_writing)
def book(slug: str) -> Response | tuple[Response, int]:
    channel_code, share_code = _link_codes(request.form)
    event, channel_id = db.session.execute(
        _EVENT_TO_BOOK, {"slug": slug, "code": channel_code or ""}).first() or (None, None)
    if event is None or not is_public(event):
        raise NotFound()
    form = request.form.to_dict(flat=False)
    booking = BookingRequest(
        form=form, consent=request.form.get("consent") == "y", locale=current_locale_code(),
        channel_code=channel_code, channel_id=channel_id, share_code=share_code,
        visitor_id=_known_visitor(), booking_key=_booking_key())
    try:
        result = book_and_commit(event, booking)
    except ValidationFailed as error:
        page = open_invitation(slug, channel_code, share_code)
        db.session.commit()  # ends the transaction (SQLite's write lock) before rendering
        body = _render_invitation(page, channel_code, share_code, values=form,
                                  errors=error.details, booking_key=booking.booking_key)
        return _private(make_response(body, 422)), 422
    except BookingClosed as closed:
        body = render_template("invites/closed.html", event=event, message=closed.message,
                               lang_next=url_for("invites.invitation", slug=slug))
        return _private(make_response(body, 409)), 409
    registration = result.registration
    if result.same_person:
        session[LAST_TICKET] = [event.slug, registration.ticket_token]
        return redirect(url_for("invites.ticket", token=registration.ticket_token), 303)
    contact = registration.contact
    session[SENT_AGAIN] = {"slug": event.slug, "email": mask_email(contact.email),
                           "phone": mask_phone(contact.phone), "booked": result.created}
    return redirect(url_for("invites.sent_again", slug=event.slug), 303)


@bp.get("/e/<slug>/sent")
def sent_again(slug: str) -> Response:
    """After booking with the details of someone who had booked already: the ticket went to
    that person's own e-mail and mobile, never to this browser."""
    event = db.session.scalar(sa.select(Event).where(Event.slug == slug))
    if event is None or not is_public(event):
        raise NotFound()
    sent = session.get(SENT_AGAIN)
    if not isinstance(sent, dict) or sent.get("slug") != slug:
        sent = None
    return _private(make_response(render_template("invites/sent_again.html", event=event,
                                                  sent=sent)))


# --- the ticket ---------------------------------------------------------------------------

def _share_links(registration: Registration) -> dict[str, str | None]:
    token = registration.ticket_token
    return {"url": invitation_url(registration.event, share_code=registration.share_code),
            "qr": _optional_url("share.ticket_share_qr", token=token),
            "poster": _optional_url("share.ticket_poster", token=token)}


@bp.get("/t/<token>")
@writes_database
def ticket(token: str) -> Response:
    current_locale_code()  # chosen now, inside the transaction
    registration = registration_by_token(token)
    visitor, new_visitor = _visitor()
    message_id = read_message_ref(request.args.get("m"))
    if message_id:
        record_message_click(registration.event, message_id, visitor_id=visitor,
                             channel_id=registration.channel_id)
    record_ticket_view(registration, visitor)
    code = ticket_code(registration)
    position = waitlist_position(registration)
    onsite = onsite_guide(registration)  # None until checked in
    db.session.commit()
    event = registration.event
    body = render_template(
        "invites/ticket.html", registration=registration, event=event,
        contact=registration.contact, code=code, position=position,
        share=_share_links(registration), map_url=_safe_map_url(event.map_url),
        ended=utcnow() >= event.ends_at, onsite=onsite,
        in_wechat="MicroMessenger" in request.headers.get("User-Agent", ""))
    return _private(make_response(body), visitor if new_visitor else None)


def _ticket_image(token: str, draw: Callable[[str], bytes], mimetype: str) -> Response:
    """The QR code of a confirmed ticket; revalidated on each view (a ticket issued anew has
    a new code), never kept in a shared cache."""
    registration = registration_by_token(token)
    # A ticket issued before its event had a key has no code yet: it is signed where the
    # key is written (a booking), never with a key this read-only request would throw away.
    if registration.status != RegistrationStatus.CONFIRMED or registration.ticket_code is None:
        raise NotFound()
    code = registration.ticket_code
    db.session.rollback()  # nothing to write: end the read before drawing
    etag = hashlib.sha256(code.encode()).hexdigest()[:20]
    if etag in request.if_none_match:
        response = Response(status=304)
    else:
        response = Response(draw(code), mimetype=mimetype)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/t/<token>/qr.png")
def ticket_qr_png(token: str) -> Response:
    return _ticket_image(token, qr_png, "image/png")


@bp.get("/t/<token>/qr.svg")
def ticket_qr_svg(token: str) -> Response:
    return _ticket_image(token, qr_svg, "image/svg+xml")


@bp.get("/t/<token>/event.ics")
def ticket_calendar(token: str) -> Response:
    registration = registration_by_token(token)
    response = Response(booking_calendar(registration), mimetype="text/calendar")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{registration.event.slug}.ics"')
    return _private(response)


@bp.post("/t/<token>/cancel")
def cancel(token: str) -> Response:
    registration = registration_by_token(token)
    already = registration.status == RegistrationStatus.CANCELLED
    cancelled, _promoted = commit_or_flash_error(lambda: cancel_registration(registration))
    if cancelled and already:
        flash(_("This booking was already cancelled."), "info")
    elif cancelled:
        flash(_("Your booking is cancelled and your ticket no longer works. Changed your "
                "mind? Book again from the invitation while places are left."), "success")
    return redirect(url_for("invites.ticket", token=token), 303)


# --- errors on attendee pages -------------------------------------------------------------

def _error_page(status: int, message: Any) -> tuple[Response, int]:
    """An error in the attendee layout, with the way back to the invitation or the ticket
    it happened on (unless that is what was not found)."""
    where = request.view_args or {}
    invitation = ticket = None
    if status != 404 and where.get("slug"):
        invitation = url_for("invites.invitation", slug=where["slug"])
    elif status != 404 and where.get("token"):
        ticket = url_for("invites.ticket", token=where["token"])
    body = render_template("invites/error.html", status=status, message=str(message),
                           invitation=invitation, ticket=ticket)
    return _private(make_response(body, status)), status


def _not_found_page() -> tuple[Response, int]:
    return _error_page(404, _("This link does not lead to an invitation or a ticket. Check "
                              "that you opened the whole link from your message."))


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Any:
    """Attendees see errors in their own layout, with no way into the back office."""
    if wants_json() or isinstance(error, InternalServerError):
        return handle_http_exception(error)
    if isinstance(error, CSRFError) and request.endpoint == "invites.book":
        return _error_page(400, _("This form has expired. Open the invitation again, fill "
                                  "in the form and book once more."))
    if isinstance(error, CSRFError):
        return _error_page(400, _("This page has expired. Open it again and repeat what you "
                                  "did."))
    if error.code == 404:
        return _not_found_page()
    status = error.code or 500
    return _error_page(status, HTTP_MESSAGES.get(status, ("", error.description))[1])


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> Any:
    if wants_json():
        return handle_domain_error(error)
    if isinstance(error, NotFound):
        return _not_found_page()
    return _error_page(error.status, error.message)
