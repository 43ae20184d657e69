"""Response headers that every page gets: no inline script, no framing, no sniffing.

Every asset is served from our own static/ (venues have bad networks and a CDN is one more
thing to fail), so the Content-Security-Policy can allow 'self' only.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "media-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def _signed_in() -> bool:
    """Whether the request is a signed-in person's, without loading anyone from the database
    (this also runs on the answer to "database busy")."""
    user = g.get("_login_user")
    return bool(user is not None and user.is_authenticated) or "_user_id" in session


#: Public files whose address changes with their content (a cover image's name has its
#: hash): their own long cache header stands for signed-in people too.
IMMUTABLE_ENDPOINTS = {"static", "setup.cover"}


#: Set on every answer, unless the view set its own.
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(self), microphone=(), geolocation=()"),
)


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed session cookie, with its signer made once per secret key (and
    fallbacks) instead of on every request, a gate scan's too."""

    def __init__(self) -> None:
        self._signers: dict[tuple[Any, ...], URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if keys not in self._signers:
            self._signers[keys] = super().get_signing_serializer(app)
        return self._signers[keys]


def init_security(app: Flask) -> None:
    app.session_interface = SessionCookies()

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        # One pass over the answer's headers, not one per header set (every gate scan).
        present = {name.lower() for name, _value in headers.items()}
        headers.extend([(name, value) for name, value in SECURITY_HEADERS
                        if name.lower() not in present])
        if request.endpoint not in IMMUTABLE_ENDPOINTS and _signed_in():
            # Signed-in pages show people's details (and a new API token, once): a shared
            # tablet's Back button or cache must not bring them back after logout.
            headers["Cache-Control"] = "no-store"
        return response
