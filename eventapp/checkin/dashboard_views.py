"""The live arrivals dashboard for marketing."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("checkin_dashboard", __name__)
