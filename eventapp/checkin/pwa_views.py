"""The gate tablet as an installable offline app: its web manifest and service worker."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("checkin_pwa", __name__)
