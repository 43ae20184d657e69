"""Showing a service's domain error on the form that caused it."""

from __future__ import annotations

from flask import flash
from flask_wtf import FlaskForm

from eventapp.core.errors import DomainError


def show_error_on_form(form: FlaskForm, error: DomainError) -> None:
    """Field errors go under their fields; the rest becomes a message at the top of the page."""
    placed = False
    for name, messages in (error.details or {}).items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            if not isinstance(field.errors, list):
                field.errors = list(field.errors)
            field.errors.extend(str(m) for m in (messages if isinstance(messages, list)
                                                 else [messages]))
            placed = True
    if not placed or not error.details:
        flash(str(error.message), "error")
