"""How Flask-Login finds the current user: the session cookie, or an API token on /api/."""

from __future__ import annotations

import logging

from flask import Flask, Response, flash, g, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from eventapp.auth.models import User
from eventapp.auth.services import (note_token_use, token_owner, token_use_is_stale,
                                    user_for_session)
from eventapp.core.api import API_PREFIX, NotSignedIn, TokenAuthenticated
from eventapp.core.database import write_transactions
from eventapp.events.access import session_user_on_event, token_owner_on_event
from eventapp.extensions import db, login_manager

log = logging.getLogger(__name__)
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please log in to see this page.")
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"


@login_manager.user_loader
def _load_from_session(session_id: str) -> User | None:
    slug = (request.view_args or {}).get("slug")
    user = session_user_on_event(session_id, slug) if slug else user_for_session(session_id)
    return user if user is not None and user.active else None


@login_manager.request_loader
def _load_from_token(req) -> User | None:  # type: ignore[no-untyped-def]
    if not req.path.startswith(API_PREFIX + "/"):
        return None
    scheme, _, plain = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not plain:
        return None
    slug = (req.view_args or {}).get("slug")
    found = token_owner_on_event(plain.strip(), slug) if slug else token_owner(plain.strip())
    if found is None:
        return None
    user, token = found
    TokenAuthenticated.mark(token.id)
    if token_use_is_stale(token):
        g.touch_api_token = token.id
    return user


def init_login(app: Flask) -> None:
    @app.teardown_request
    def _touch_token(_exc: BaseException | None) -> None:
        token_id = g.pop("touch_api_token", None)
        if token_id is None:
            return
        db.session.remove()  # release the request's transaction (and SQLite's write lock)
        try:
            with write_transactions():
                note_token_use(token_id)
        except Exception:  # bookkeeping only: the answer is already made, keep it
            log.warning("could not note the use of API token %s", token_id, exc_info=True)

    @login_manager.unauthorized_handler
    def _unauthorized() -> Response:
        if request.path.startswith(API_PREFIX + "/"):
            raise NotSignedIn()
        flash(login_manager.login_message, login_manager.login_message_category)
        return redirect(url_for(login_manager.login_view, next=request.full_path.rstrip("?")))
