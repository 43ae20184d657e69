"""Domain errors raised by services, and the one place that turns any error into a response.

Services raise `DomainError` subclasses with a message a person can act on. Views usually catch
them to re-show a form; whatever is not caught ends here, as an HTML page for people and as
one JSON shape for the API:

    {"error": {"status": 403, "code": "forbidden", "message": "...", "details": {...}}}
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request, session
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from eventapp.core.database import DatabaseBusy, is_lock_timeout, is_unique_violation
from eventapp.core.i18n import SESSION_KEY, browser_locale

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the product was not met; `message` tells the person what happened and what to do."""

    status = 400
    code = "bad_request"
    default_message: Any = _l("The request could not be carried out.")

    def __init__(self, message: Any = None, **details: Any) -> None:
        self.message = message if message is not None else self.default_message
        self.details = details
        super().__init__(str(self.message))


class NotFound(DomainError):
    status, code = 404, "not_found"
    default_message = _l("We could not find what you asked for.")


class PermissionDenied(DomainError):
    status, code = 403, "forbidden"
    default_message = _l("You do not have access to this.")


class Conflict(DomainError):
    status, code = 409, "conflict"
    default_message = _l("This clashes with something that already exists.")


class ValidationFailed(DomainError):
    """`details` maps field names to lists of messages."""

    status, code = 422, "invalid"
    default_message = _l("Some of the values are not valid.")


# What a person is told for each HTTP status, and what to do about it.
HTTP_MESSAGES: dict[int, tuple[str, Any]] = {
    400: ("bad_request", _l("The request was malformed. Reload the page and try again.")),
    401: ("unauthorized", _l("Please log in first. API clients send a valid token in the "
                             "Authorization header: Bearer <token>.")),
    403: ("forbidden", _l("You do not have access to this page. Ask the event's marketer "
                          "to add you to the team with the right role.")),
    404: ("not_found", _l("We could not find this page. Check the address or go back to "
                          "your events.")),
    405: ("method_not_allowed", _l("This address does not accept that method.")),
    409: ("conflict", _l("This clashes with something that already exists.")),
    413: ("payload_too_large", _l("The upload is too large. Split the file or make it smaller, "
                                  "then try again.")),
    415: ("unsupported_media_type", _l("This kind of content is not accepted here.")),
    422: ("invalid", _l("Some of the values are not valid.")),
    429: ("too_many_requests", _l("Too many attempts. Wait a minute and try again.")),
    500: ("internal_error", _l("Something went wrong on our side. It has been logged; "
                               "please try again in a moment.")),
    503: ("unavailable", _l("The service is busy. Please try again in a moment.")),
}


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes.accept_html


def error_response(status: int, code: str, message: Any, details: Any = None,
                   headers: dict[str, str] | None = None) -> tuple[Response | str, int, dict]:
    """The response for an error, in the form the client wants."""
    if wants_json():
        body: dict[str, Any] = {"status": status, "code": code, "message": str(message)}
        if details:
            body["details"] = details
        return jsonify(error=body), status, headers or {}
    # str(): a lazily translated message would otherwise reach the page as HTML, unescaped.
    return render_template("errors/error.html", status=status, code=code,
                           message=str(message)), status, headers or {}


def _http_details(error: HTTPException) -> tuple[str, Any, Any]:
    code, message = HTTP_MESSAGES.get(error.code or 500, ("error", DomainError.default_message))
    data = getattr(error, "data", None) or {}
    details = data.get("errors") or data.get("messages")
    if isinstance(details, dict) and set(details) <= {"json", "query", "form", "files"}:
        # webargs nests field errors under the request location; one level is enough. A body
        # it could not read at all has a list there instead: {"json": ["Invalid JSON body."]}.
        flat: dict[str, Any] = {}
        for location, errors in details.items():
            flat.update(errors if isinstance(errors, dict) else {location: errors})
        details = flat
    if data.get("message"):
        message = data["message"]
    return code, message, details


def handle_http_exception(error: HTTPException) -> Any:
    if isinstance(error, CSRFError):
        return error_response(400, "csrf_failed", _l(
            "This form has expired or was not sent from this site. Reload the page and "
            "send it again."))
    if isinstance(error, InternalServerError):
        original = getattr(error, "original_exception", None)
        if original is not None:
            log.error("unhandled error on %s %s", request.method, request.path,
                      exc_info=original)
    code, message, details = _http_details(error)
    headers = dict(error.get_headers())
    headers.pop("Content-Type", None)
    return error_response(error.code or 500, code, message, details, headers)


def handle_domain_error(error: DomainError) -> Any:
    return error_response(error.status, error.code, error.message, error.details or None)


def handle_integrity_error(error: IntegrityError) -> Any:
    """The safety net under check-then-insert races that no service handled (two identical
    submissions at the same instant): a clear 409, never a 500. Services that can do better
    (retry, return the existing row) catch the error themselves."""
    if not is_unique_violation(error):
        return handle_http_exception(InternalServerError(original_exception=error))
    log.info("unique violation answered with 409 on %s %s: %s", request.method, request.path,
             error.orig)
    code = HTTP_MESSAGES[409][0]
    return error_response(409, code, _l("This was just saved by someone else (or sent twice). "
                                        "Reload the page to see the current state."))


def handle_database_busy(error: Exception) -> Any:
    """SQLite stayed locked for the whole busy timeout: say so, and that trying again helps."""
    if isinstance(error, OperationalError) and not is_lock_timeout(error):
        return handle_http_exception(InternalServerError(original_exception=error))
    log.warning("database busy on %s %s: %s", request.method, request.path, error)
    code, message = HTTP_MESSAGES[503]
    # The language must be chosen without the database (the signed-in user's setting is in
    # it): from the language switch or the browser.
    locale = (session.get(SESSION_KEY) or browser_locale(request.accept_languages)
              or current_app.config["BABEL_DEFAULT_LOCALE"])
    with force_locale(locale):
        return error_response(503, code, message, headers={"Retry-After": "5"})


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(DatabaseBusy, handle_database_busy)
    app.register_error_handler(OperationalError, handle_database_busy)
