"""Response headers that every page gets: no inline script, no framing, no sniffing.

Every asset is served from our own static/ (venues have bad networks and a CDN is one more
thing to fail), so the Content-Security-Policy can allow 'self' only.
"""

from __future__ import annotations

from flask import Flask, Response, g, request, session

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


def init_security(app: Flask) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
        if request.endpoint != "static" and _signed_in():
            # Signed-in pages show people's details (and a new API token, once): a shared
            # tablet's Back button or cache must not bring them back after logout.
            headers["Cache-Control"] = "no-store"
        return response
