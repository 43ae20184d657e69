"""Whole numbers from outside (URL parts, query strings, API bodies) kept to what the
database's columns hold, so a number too long for them is a 404 or a clear 422, never a
database error answered 500.

Ids and counts are INTEGER columns: 32 bits on PostgreSQL (which refuses a larger parameter
with "integer out of range") and 64 on SQLite (whose driver cannot even bind more).

    app.url_map.converters["int"] = IdConverter      # every <int:...> of every route
    page = request.args.get("page", 1, type=whole_number)
    point_id = Id(required=True)                      # a marshmallow field
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Flask
from werkzeug.routing import IntegerConverter, Map

#: The largest value of an INTEGER column on both databases.
INTEGER_MAX = 2**31 - 1


class IdConverter(IntegerConverter):
    """Flask's `int` URL converter, bounded to INTEGER_MAX: a longer number matches no
    route (404)."""

    def __init__(self, url_map: Map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = INTEGER_MAX, signed: bool = False) -> None:
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def whole_number(text: str) -> int:
    """A query-string number (`request.args.get(..., type=whole_number)`): from 0 to
    INTEGER_MAX, else ValueError, which makes `get` return its default."""
    number = int(text)
    if not 0 <= number <= INTEGER_MAX:
        raise ValueError(f"{text!r} is out of range")
    return number


class Id(ma.fields.Integer):
    """The id of a row, in an API body: a whole number from 1 to INTEGER_MAX."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=ma.validate.Range(min=1, max=INTEGER_MAX), **kwargs)


def init_inputs(app: Flask) -> None:
    """Bound the app's `int` URL converter; call before the blueprints are registered."""
    app.url_map.converters["int"] = IdConverter
