"""Opting out of marketing messages: the signed link in every invitation, and what it does.

The link names the contact by a signature of its id (its own salt, no expiry: an old e-mail's
link keeps working). Opting out stops invitations, never transactional messages (tickets,
reminders of a booking the person made).
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer
from flask import current_app

from eventapp.contacts.models import Contact
from eventapp.core.errors import NotFound
from eventapp.core.time import utcnow
from eventapp.extensions import db

SALT = "unsubscribe"
#: Tokens are short (a contact id and a signature); anything longer is not one of ours.
MAX_TOKEN_LENGTH = 100


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def unsubscribe_token(contact_id: int) -> str:
    """The secret part of a contact's unsubscribe link."""
    return _serializer().dumps(contact_id)


def unsubscribe_url(contact_id: int) -> str:
    """The contact's unsubscribe page (mailings.unsubscribe), as the recipient of a message
    reaches it: on PUBLIC_URL, from the sender's process too (no request there)."""
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    return f"{base}/u/{unsubscribe_token(contact_id)}"


def contact_for_token(token: str) -> Contact:
    """The contact an unsubscribe link names; NotFound for a tampered, foreign or stale one."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotFound()
    try:
        contact_id = _serializer().loads(token)
    except BadSignature:
        raise NotFound() from None
    contact = db.session.get(Contact, contact_id) if isinstance(contact_id, int) else None
    if contact is None:
        raise NotFound()
    return contact


def opt_out(contact: Contact) -> bool:
    """Stop marketing messages to the contact; True if they had not opted out before (the
    first opt-out's time is kept)."""
    if contact.opted_out_at is not None:
        return False
    contact.opted_out_at = utcnow()
    return True
