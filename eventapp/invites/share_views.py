"""QR codes and countdown posters to download: per channel (marketing) and per attendee (their
personal share link)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from eventapp.core.errors import NotFound
from eventapp.core.i18n import current_locale_code
from eventapp.events.access import SETUP_ROLES, event_role_required
from eventapp.events.models import Event, Registration, RegistrationStatus
from eventapp.events.services import get_channel
from eventapp.extensions import db
from eventapp.invites.booking import registration_by_token
from eventapp.invites.links import invitation_url
from eventapp.invites.posters import EventFacts, event_today, poster_png
from eventapp.invites.qrcodes import qr_png, qr_svg

bp = Blueprint("share", __name__)

#: Pixels per module of a channel's PNG code: a channel link (about 37 modules with its quiet
#: zone) comes out about 740 px wide, enough for a flyer or a roll-up banner.
CHANNEL_QR_BOX = 20
#: An attendee's code is for a phone screen or a chat message.
SHARE_QR_BOX = 12


class SharingEnded(NotFound):
    code = "booking_cancelled"
    default_message = _l("This booking was cancelled, so its personal invitation link no "
                         "longer works. Book again to get a new one.")


@bp.app_context_processor
def _channel_link_helpers() -> dict[str, Any]:
    return {"invitation_url": invitation_url,
            "shows_channel_downloads": shows_channel_downloads}


def shows_channel_downloads() -> bool:
    """Whether the reader of an event page may see its channel links and download their QR
    codes and posters (the channel table appears on more than one page)."""
    return bool(current_user.is_authenticated
                and (current_user.is_admin or g.get("event_role") in SETUP_ROLES))


# --- marketing: per channel -------------------------------------------------------------------

@bp.get("/events/<slug>/channels/<int:channel_id>/qr.png")
@login_required
@event_role_required(*SETUP_ROLES)
def channel_qr_png(event: Event, channel_id: int) -> Response:
    channel = get_channel(event, channel_id)
    data = qr_png(invitation_url(event, channel_code=channel.code), box_size=CHANNEL_QR_BOX)
    return _image(data, "image/png", f"{event.slug}-{channel.code}-qr.png")


@bp.get("/events/<slug>/channels/<int:channel_id>/qr.svg")
@login_required
@event_role_required(*SETUP_ROLES)
def channel_qr_svg(event: Event, channel_id: int) -> Response:
    channel = get_channel(event, channel_id)
    data = qr_svg(invitation_url(event, channel_code=channel.code))
    return _image(data, "image/svg+xml", f"{event.slug}-{channel.code}-qr.svg")


@bp.get("/events/<slug>/channels/<int:channel_id>/poster.png")
@login_required
@event_role_required(*SETUP_ROLES)
def channel_poster(event: Event, channel_id: int) -> Response:
    channel = get_channel(event, channel_id)
    return _poster(event, key=channel.code, inviter=None,
                   link=invitation_url(event, channel_code=channel.code),
                   filename=f"{event.slug}-{channel.code}-poster.png")


@bp.get("/events/<slug>/poster.png")
@login_required
@event_role_required(*SETUP_ROLES)
def direct_poster(event: Event) -> Response:
    return _poster(event, key="direct", link=invitation_url(event), inviter=None,
                   filename=f"{event.slug}-poster.png")


# --- attendees: their personal share link -------------------------------------------------------

@bp.get("/t/<token>/share.png")
def ticket_share_qr(token: str) -> Response:
    registration = _sharing_registration(token)
    link = invitation_url(registration.event, share_code=registration.share_code)
    return _image(qr_png(link, box_size=SHARE_QR_BOX), "image/png",
                  f"{registration.event.slug}-invite-qr.png", attachment=False, max_age=3600)


@bp.get("/t/<token>/poster.png")
def ticket_poster(token: str) -> Response:
    registration = _sharing_registration(token)
    event = registration.event
    return _poster(event, key=f"r-{registration.share_code}",
                   link=invitation_url(event, share_code=registration.share_code),
                   inviter=registration.contact.name or None,
                   filename=f"{event.slug}-invite-poster.png", attachment=False)


def _sharing_registration(token: str) -> Registration:
    registration = registration_by_token(token)
    if registration.status == RegistrationStatus.CANCELLED:
        raise SharingEnded()
    return registration


# --- responses --------------------------------------------------------------------------------

def _poster(event: Event, *, key: str, link: str, inviter: str | None, filename: str,
            attachment: bool = True) -> Response:
    facts = EventFacts.of(event)
    current_locale_code()  # chosen now: the signed-in user's language is read from the database
    db.session.commit()  # end the read: drawing takes a moment and needs no database
    data = poster_png(facts, key=key, link=link, inviter=inviter, today=event_today(facts))
    return _image(data, "image/png", filename, attachment=attachment, max_age=600)


def _image(data: bytes, mimetype: str, filename: str, *, attachment: bool = True,
           max_age: int = 0) -> Response:
    """An image to download (`attachment`) or to show (a phone keeps a shown image with a
    long press, which is how WeChat users save one), for this visitor's eyes only."""
    response = Response(data, mimetype=mimetype)
    response.headers.set("Content-Disposition", "attachment" if attachment else "inline",
                         filename=filename)
    response.cache_control.private = True
    response.cache_control.max_age = max_age
    return response
