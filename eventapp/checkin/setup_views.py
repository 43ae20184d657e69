"""Marketing's set-up of the event's check-in points."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("checkin_setup", __name__)
