"""API shapes of check-in: points, scans and their results, offline sync, totals."""

from __future__ import annotations

import marshmallow as ma

from eventapp.checkin.models import Direction, PointKind, ScanResult
from eventapp.core.inputs import Id

CLIENT_ID = ma.validate.Length(min=1, max=64)


class PointSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    kind = ma.fields.Enum(PointKind, by_value=True, required=True)
    hall = ma.fields.String(load_default="", validate=ma.validate.Length(max=80))
    location = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    active = ma.fields.Boolean(load_default=True)


class _ScanFields(ma.Schema):
    point_id = Id(required=True)
    device_id = ma.fields.String(load_default="", validate=ma.validate.Length(max=64),
                                 metadata={"description": "the tablet's own id"})
    client_scan_id = ma.fields.String(load_default=None, validate=CLIENT_ID, metadata={
        "description": "the tablet's id of this scan: sending it again returns the stored "
                       "result instead of scanning twice"})
    direction = ma.fields.Enum(Direction, by_value=True, load_default=Direction.IN)
    purpose = ma.fields.String(load_default="entry",
                               validate=ma.validate.OneOf(("entry", "gift")), metadata={
                                   "description": "entry: the point's rule; gift: hand out "
                                                  "the booking gift"})


class RedeemSchema(_ScanFields):
    code = ma.fields.String(required=True, validate=ma.validate.Length(max=2000),
                            metadata={"description": "the scanned QR payload, as typed"})


class ByHandSchema(_ScanFields):
    registration_id = Id(required=True)


class FirstUseSchema(ma.Schema):
    at = ma.fields.AwareDateTime()
    point = ma.fields.String()
    staff = ma.fields.String()
    scan_id = ma.fields.Integer()


class ScanOutcomeSchema(ma.Schema):
    scan_id = ma.fields.Integer()
    result = ma.fields.Enum(ScanResult, by_value=True)
    admitted = ma.fields.Boolean(metadata={"description": "let the person through"})
    title = ma.fields.String(metadata={"description": "the headline, in your language"})
    message = ma.fields.String(metadata={"description": "what to do, in your language"})
    registration_id = ma.fields.Integer(allow_none=True)
    name = ma.fields.String()
    company = ma.fields.String()
    job_title = ma.fields.String()
    gift_due = ma.fields.Boolean()
    gift = ma.fields.String(metadata={"description": "the event's booking gift"})
    first = ma.fields.Nested(FirstUseSchema, allow_none=True, metadata={
        "description": "already used: when, where and by whom it was first used"})
    conflict = ma.fields.Boolean(metadata={
        "description": "an offline scan let through that was already used elsewhere"})
    replayed = ma.fields.Boolean()
    scanned_at = ma.fields.AwareDateTime(allow_none=True)
    scope = ma.fields.String(allow_none=True, metadata={
        "description": "what the scan was about: venue, gift or point:<id>"})


class SyncScanSchema(ma.Schema):
    client_scan_id = ma.fields.String(required=True, validate=CLIENT_ID)
    point_id = Id(required=True)
    scanned_at = ma.fields.AwareDateTime(required=True)
    code = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))
    registration_id = Id(load_default=None)
    direction = ma.fields.Enum(Direction, by_value=True, load_default=Direction.IN)
    purpose = ma.fields.String(load_default="entry",
                               validate=ma.validate.OneOf(("entry", "gift")))
    device_admitted = ma.fields.Boolean(load_default=False)


class SyncSchema(ma.Schema):
    device_id = ma.fields.String(load_default="", validate=ma.validate.Length(max=64))
    scans = ma.fields.List(ma.fields.Nested(SyncScanSchema), required=True)


class SyncResultSchema(ma.Schema):
    client_scan_id = ma.fields.String()
    outcome = ma.fields.Nested(ScanOutcomeSchema, allow_none=True)
    error = ma.fields.String(allow_none=True)


class SyncAnswerSchema(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(SyncResultSchema))
    conflicts = ma.fields.Integer()


class UndoSchema(ma.Schema):
    device_id = ma.fields.String(load_default="", validate=ma.validate.Length(max=64))


class RosterEntrySchema(ma.Schema):
    id = ma.fields.Integer()
    serial = ma.fields.String()
    status = ma.fields.String()
    checked_in = ma.fields.Boolean()
    gift_given = ma.fields.Boolean()
    name = ma.fields.String()
    company = ma.fields.String()
    job_title = ma.fields.String()


class RosterSchema(ma.Schema):
    event_id = ma.fields.Integer()
    public_key = ma.fields.String(metadata={"description": "Ed25519 public key, base64"})
    gift = ma.fields.String()
    generated_at = ma.fields.AwareDateTime()
    points = ma.fields.List(ma.fields.Nested(PointSchema))
    registrations = ma.fields.List(ma.fields.Nested(RosterEntrySchema))


class SearchQuerySchema(ma.Schema):
    q = ma.fields.String(load_default="", validate=ma.validate.Length(max=100))


class SearchHitSchema(ma.Schema):
    registration_id = ma.fields.Integer()
    status = ma.fields.String()
    checked_in_at = ma.fields.AwareDateTime(allow_none=True)
    gift_given_at = ma.fields.AwareDateTime(allow_none=True)
    name = ma.fields.String()
    company = ma.fields.String()
    job_title = ma.fields.String()
    phone = ma.fields.String(allow_none=True, metadata={"description": "the last 4 digits"})


class PointTotalsSchema(ma.Schema):
    point = ma.fields.Nested(PointSchema)
    entries = ma.fields.Integer()
    exits = ma.fields.Integer()
    people = ma.fields.Integer()
    refused = ma.fields.Integer()


class HallSchema(ma.Schema):
    hall = ma.fields.String()
    entries = ma.fields.Integer()
    exits = ma.fields.Integer()
    inside = ma.fields.Integer()


class TotalsSchema(ma.Schema):
    arrivals = ma.fields.Integer(metadata={"description": "people at the venue, each once"})
    expected = ma.fields.Integer()
    gifts = ma.fields.Integer()
    on_site = ma.fields.Integer(metadata={"description": "at the venue now: entrance entries "
                                                        "minus entrance exits"})
    points = ma.fields.List(ma.fields.Nested(PointTotalsSchema))
    halls = ma.fields.List(ma.fields.Nested(HallSchema))


class WalkInSchema(ma.Schema):
    point_id = Id(required=True)
    device_id = ma.fields.String(load_default="", validate=ma.validate.Length(max=64))
    client_scan_id = ma.fields.String(load_default=None, validate=CLIENT_ID)
    consent = ma.fields.Boolean(load_default=False)
    fields = ma.fields.Dict(keys=ma.fields.String(), required=True, metadata={
        "description": "the event's booking form, as the invitation page posts it"})
