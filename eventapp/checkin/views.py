"""The gate tablet's pages: scanning, results, supervisor tools and walk-ins."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("checkin", __name__)
