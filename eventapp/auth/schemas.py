"""API shapes of accounts."""

from __future__ import annotations

import marshmallow as ma


class MembershipBriefSchema(ma.Schema):
    slug = ma.fields.String()
    title = ma.fields.String()
    role = ma.fields.String(allow_none=True, metadata={
        "description": "marketer, staff or sales; null for an admin outside the team"})


class MeSchema(ma.Schema):
    id = ma.fields.Integer()
    email = ma.fields.Email()
    name = ma.fields.String()
    is_admin = ma.fields.Boolean()
    locale = ma.fields.String(allow_none=True)
    events = ma.fields.List(ma.fields.Nested(MembershipBriefSchema))
