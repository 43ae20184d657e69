"""The behaviour log: one append-only table, written in the caller's transaction, announced by
a signal that subscribers (scoring, dashboards) listen to."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from eventapp.core.activity import Activity, ActivityKind, activity_recorded, record_activity
from eventapp.extensions import db


def test_recording_adds_a_row_and_tells_subscribers(app, make, event):
    contact = make.contact()
    heard: list[Activity] = []

    def listener(activity: Activity) -> None:
        heard.append(activity)

    with activity_recorded.connected_to(listener), app.app_context():
        record_activity(ActivityKind.BOOKING, event_id=event.id, contact_id=contact.id,
                        reference="registration:1", value=Decimal("2.5"))
        db.session.commit()
        row = db.session.scalar(sa.select(Activity))
    assert heard and heard[0].kind == "booking"
    assert (row.kind, row.contact_id, row.reference, row.value) == (
        "booking", contact.id, "registration:1", Decimal("2.50"))
    assert row.occurred_at.tzinfo is not None


def test_an_activity_is_undone_with_its_transaction(app, event):
    with app.app_context():
        record_activity(ActivityKind.INVITE_VIEW, event_id=event.id, visitor_id="v-1")
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Activity)) == 0


def test_an_activity_belongs_to_someone(app, event):
    with app.app_context(), pytest.raises(ValueError, match="contact or"):
        record_activity(ActivityKind.INVITE_VIEW, event_id=event.id)
