"""Absolute links that leave the app (in e-mails, texts, QR codes and posters), built on
PUBLIC_URL, and the signed reference that tells which message a clicked link came from."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from eventapp.events.models import Event, Registration


def public_url(endpoint: str, **values: object) -> str:
    """The address of `endpoint` as attendees reach it (PUBLIC_URL), in a request or not
    (a Celery task has no request to build URLs from)."""
    adapter = current_app.url_map.bind("localhost")
    path = adapter.build(endpoint, {k: v for k, v in values.items() if v is not None})
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="message-link")


def message_ref(message_id: int) -> str:
    """The `m` parameter of links in message `message_id`: signed, so clicks cannot be faked."""
    return _serializer().dumps(message_id)


def read_message_ref(ref: str | None) -> int | None:
    """The message id a link's `m` parameter names, or None if absent or tampered with."""
    if not ref or len(ref) > 80:
        return None
    try:
        value = _serializer().loads(ref)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def invitation_url(event: Event, *, channel_code: str | None = None,
                   share_code: str | None = None, message_id: int | None = None) -> str:
    """The invitation page, crediting a channel (?c=) or an attendee who shares it (?r=)."""
    query = {key: value for key, value in (("c", channel_code), ("r", share_code),
                                           ("m", message_ref(message_id) if message_id else None))
             if value}
    base = current_app.config["PUBLIC_URL"].rstrip("/") + f"/e/{event.slug}"
    return f"{base}?{urlencode(query)}" if query else base


def ticket_url(registration: Registration, *, message_id: int | None = None) -> str:
    """The attendee's ticket page (a secret address: whoever has it can see and cancel)."""
    base = current_app.config["PUBLIC_URL"].rstrip("/") + f"/t/{registration.ticket_token}"
    return f"{base}?m={message_ref(message_id)}" if message_id else base
