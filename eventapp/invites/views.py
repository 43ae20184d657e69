"""Attendee pages on phones: the invitation, the booking form, the ticket. Public: no login."""

from __future__ import annotations

from flask import Blueprint

from eventapp.invites import models as _models  # noqa: F401  (the mailings table)

bp = Blueprint("invites", __name__)
