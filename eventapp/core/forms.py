"""Forms and services: committing what a submitted form changed, or showing why not.

    if form.validate_on_submit():
        saved, channel = commit_or_show_error(form, lambda: services.create_channel(...))
        if saved:
            flash(...)
            return redirect(...)
    return render_template(..., form=form)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import flash
from flask_wtf import FlaskForm

from eventapp.core.errors import DomainError
from eventapp.extensions import db

T = TypeVar("T")


def commit_or_show_error(form: FlaskForm, change: Callable[[], T]) -> tuple[bool, T | None]:
    """Run one service call for a submitted form. On success commit and return (True, its
    result); on a domain error roll back, show the error on the form, return (False, None)."""
    try:
        result = change()
    except DomainError as error:
        db.session.rollback()
        show_error_on_form(form, error)
        return False, None
    db.session.commit()
    return True, result


def commit_or_flash_error(change: Callable[[], T]) -> tuple[bool, T | None]:
    """As commit_or_show_error, for an action without a form (a button): the error becomes a
    message at the top of the next page."""
    try:
        result = change()
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return False, None
    db.session.commit()
    return True, result


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
