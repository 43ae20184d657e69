"""The JSON API base: `/api/v1`, one OpenAPI document, one error shape, one way to authenticate.

Every feature's `api.py` makes its blueprint with `api_blueprint(...)`, so each endpoint:
- requires a user: an API token (`Authorization: Bearer <token>`) or the browser session;
- when called from a browser session with a changing method, requires the CSRF token in the
  `X-CSRFToken` header (a token-authenticated call cannot be forged by another site);
- answers errors as `{"error": {"status", "code", "message", "details"}}` (core/errors.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import flask_smorest
import marshmallow as ma
from flask import Request, g, request
from flask_login import current_user
from flask_smorest.utils import resolve_schema_instance
from flask_wtf.csrf import CSRFProtect
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from eventapp.core.database import SAFE_METHODS

API_PREFIX = "/api/v1"
F = TypeVar("F", bound=Callable[..., Any])


class ErrorBodySchema(ma.Schema):
    status = ma.fields.Integer(metadata={"description": "HTTP status code"})
    code = ma.fields.String(metadata={"description": "Stable machine-readable error code"})
    message = ma.fields.String(metadata={"description": "What happened and what to do, in the "
                                                        "caller's language"})
    details = ma.fields.Dict(metadata={"description": "Field errors or other particulars"})


class ErrorSchema(ma.Schema):
    error = ma.fields.Nested(ErrorBodySchema)


class Amount(ma.fields.Decimal):
    """Money: an exact decimal sent as a JSON string ("1200.50"), never a float; a string or
    a number is accepted. Documented as a string of format "decimal", which is what it is."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("places", 2)
        super().__init__(as_string=True, **kwargs)  # type: ignore[arg-type]


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # A plain Decimal field is documented as a "number" whose minimum is a string ("0.00"):
        # not valid OpenAPI, and not what is sent either.
        self.register_field(Amount, "string", "decimal")

    def _register_error_handlers(self) -> None:
        """core/errors.py answers every error, HTML or JSON, so the Api registers none."""


SPEC_OPTIONS = {
    "info": {"description": "eventapp's JSON API. Authenticate with an API token from "
                            "your account page: `Authorization: Bearer <token>`."},
    "security": [{"bearerAuth": []}],
    "components": {"securitySchemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer",
                       "description": "An API token created on the account page"},
    }},
}


class NotSignedIn(Unauthorized):
    """401: neither a session nor a valid API token. HTTP requires a 401 to name the way to
    authenticate (WWW-Authenticate: Bearer)."""

    def __init__(self) -> None:
        super().__init__(www_authenticate=WWWAuthenticate("bearer"))


class TokenAuthenticated:
    """Marker kept on `g` by the token loader (auth feature) so the CSRF rule can tell the two
    ways of authenticating apart."""

    attribute = "api_token_id"

    @classmethod
    def mark(cls, token_id: int) -> None:
        setattr(g, cls.attribute, token_id)

    @classmethod
    def current(cls) -> bool:
        return getattr(g, cls.attribute, None) is not None


class _Parser(FlaskParser):
    """webargs' parser of request bodies, answering a JSON body nested too deep for Python's
    parser (thousands of brackets) as invalid JSON, a 400, not a RecursionError's 500."""

    def _raw_load_json(self, req: Request) -> Any:
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply", "[[[…", 0) from None


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = _Parser()

    def arguments(self, schema: type[ma.Schema] | ma.Schema, **kwargs: object
                  ) -> Callable[[F], F]:
        """As flask-smorest's, with the schema made once here: webargs makes an instance of a
        schema class on every request (a copy of each of its fields)."""
        return super().arguments(resolve_schema_instance(schema), **kwargs)  # type: ignore


def api_blueprint(name: str, import_name: str, url_prefix: str, description: str,
                  csrf: CSRFProtect) -> Blueprint:
    """A blueprint under /api/v1 whose every endpoint authenticates as described above."""
    blueprint = Blueprint(name, import_name, url_prefix=API_PREFIX + url_prefix,
                          description=description)
    csrf.exempt(blueprint)

    @blueprint.before_request
    def _authenticate() -> None:
        if not current_user.is_authenticated:
            raise NotSignedIn()
        if request.method not in SAFE_METHODS and not TokenAuthenticated.current():
            csrf.protect()

    return blueprint
