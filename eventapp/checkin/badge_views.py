"""Printable PDF badges, one person's or the whole event's."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("badges", __name__)
