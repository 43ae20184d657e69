"""API shapes of events, channels and registrations."""

from __future__ import annotations

import marshmallow as ma

from eventapp.core.api import Amount
from eventapp.events.models import ChannelKind, EventStatus, RegistrationStatus


class EventSchema(ma.Schema):
    slug = ma.fields.String()
    title = ma.fields.String()
    description = ma.fields.String()
    starts_at = ma.fields.AwareDateTime()
    ends_at = ma.fields.AwareDateTime()
    timezone = ma.fields.String(metadata={"description": "IANA timezone the event is shown in"})
    venue = ma.fields.String()
    address = ma.fields.String()
    transport_notes = ma.fields.String()
    capacity = ma.fields.Integer(allow_none=True)
    status = ma.fields.Enum(EventStatus, by_value=True)
    currency = ma.fields.String()


class EventSummarySchema(ma.Schema):
    confirmed = ma.fields.Integer()
    waitlisted = ma.fields.Integer()
    cancelled = ma.fields.Integer()
    checked_in = ma.fields.Integer()
    visitors = ma.fields.Integer(metadata={"description": "unique visitors of the invitation"})
    spend = Amount(allow_none=True, metadata={"description": "null unless you are a marketer"})


class EventDetailSchema(EventSchema):
    summary = ma.fields.Nested(EventSummarySchema)


class ChannelSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    kind = ma.fields.Enum(ChannelKind, by_value=True, required=True)
    code = ma.fields.String(validate=ma.validate.Length(max=32), metadata={
        "description": "tracking code, unique in the event; made from the kind when omitted"})
    spend = Amount(validate=ma.validate.Range(min=0))


class ChannelFiguresSchema(ChannelSchema):
    visitors = ma.fields.Integer(dump_only=True)
    registrations = ma.fields.Integer(dump_only=True)
    checked_in = ma.fields.Integer(dump_only=True)


class ChannelPatchSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=120))
    kind = ma.fields.Enum(ChannelKind, by_value=True)
    code = ma.fields.String(validate=ma.validate.Length(min=1, max=32))
    spend = Amount(validate=ma.validate.Range(min=0))


class ContactBriefSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    company = ma.fields.String()
    job_title = ma.fields.String()
    city = ma.fields.String()
    phone = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)


class RegistrationSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.Enum(RegistrationStatus, by_value=True)
    created_at = ma.fields.AwareDateTime()
    checked_in_at = ma.fields.AwareDateTime(allow_none=True)
    channel_code = ma.fields.Function(lambda r: r.channel.code if r.channel else None)
    contact = ma.fields.Nested(ContactBriefSchema)


class RegistrationQuerySchema(ma.Schema):
    q = ma.fields.String(load_default="", validate=ma.validate.Length(max=100),
                         metadata={"description": "search name, company, title, mobile, e-mail"})
    status = ma.fields.Enum(RegistrationStatus, by_value=True, load_default=None)
