"""QR codes and countdown posters to download: per channel (marketing) and per attendee (their
personal share link)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("share", __name__)
