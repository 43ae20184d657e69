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


#: Public files whose address changes with their content (a cover image's name has its
#: hash): their own long cache header stands for signed-in people too.
IMMUTABLE_ENDPOINTS = {"static", "setup.cover"}


def init_security(app: Flask) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
        if request.endpoint not in IMMUTABLE_ENDPOINTS and _signed_in():
            # Signed-in pages show people's details (and a new API token, once): a shared
            # tablet's Back button or cache must not bring them back after logout.
            headers["Cache-Control"] = "no-store"
        return response
