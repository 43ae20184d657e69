"""The figures of an event and of its channels: registrations by status, check-ins, unique
visitors of the invitation, spend and cost per registration."""

from __future__ import annotations

from decimal import Decimal

import pytest

from eventapp.core.activity import ActivityKind, record_activity
from eventapp.core.time import utcnow
from eventapp.events.models import Event, RegistrationStatus
from eventapp.events.services import channel_figures, summaries
from eventapp.extensions import db

CONFIRMED, WAITLISTED, CANCELLED = (RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED,
                                    RegistrationStatus.CANCELLED)


def visits(app, event, channel, *visitor_ids: str, kind=ActivityKind.INVITE_VIEW) -> None:
    with app.app_context():
        for visitor_id in visitor_ids:
            record_activity(kind, event_id=event.id, visitor_id=visitor_id,
                            channel_id=channel.id if channel else None)
        db.session.commit()


@pytest.fixture
def expo(app, make, event):
    """An event with three channels, registrations in every status and invitation visits."""
    wechat = make.channel(event, name="WeChat", code="wechat-1", spend="1000.00")
    sms = make.channel(event, name="SMS", kind="sms", code="sms-1", spend="0.00")
    poster = make.channel(event, name="Poster", kind="poster", code="poster-1", spend="100.00")

    make.registration(event, channel=wechat, checked_in_at=utcnow())
    make.registration(event, channel=wechat)
    make.registration(event, channel=wechat, status=WAITLISTED)
    make.registration(event, channel=wechat, status=CANCELLED)
    make.registration(event, channel=sms, checked_in_at=utcnow())
    make.registration(event)  # came without a channel link

    visits(app, event, wechat, "v1", "v1", "v2", "v3")  # v1 twice: one visitor
    visits(app, event, sms, "v1")  # the same person through another channel
    visits(app, event, None, "v4", "v4")
    visits(app, event, wechat, "v9", kind=ActivityKind.BOOKING)  # not a visit of the invitation
    other = make.event()
    visits(app, other, None, "v1", "v5")  # another event's visitors
    make.registration(other)
    return {"wechat": wechat, "sms": sms, "poster": poster, "other": other}


def figures_by_channel(app, event):
    with app.app_context():
        rows = channel_figures(db.session.get(Event, event.id))
    return {row.channel.code if row.channel else None: row for row in rows}


def test_the_event_summary(app, event, expo):
    with app.app_context():
        result = summaries([event.id, expo["other"].id])
    summary = result[event.id]

    assert (summary.confirmed, summary.waitlisted, summary.cancelled) == (4, 1, 1)
    assert summary.registered == 5  # cancelled ones are not registered
    assert summary.checked_in == 2
    assert summary.visitors == 4  # v1 v2 v3 v4, each once however often and wherever
    assert summary.spend == Decimal("1100.00")
    assert summary.attendance_rate == pytest.approx(2 / 4)
    other = result[expo["other"].id]
    assert (other.confirmed, other.visitors, other.spend) == (1, 2, Decimal("0.00"))


def test_an_event_without_anything_has_zero_figures(app, make):
    empty = make.event()
    with app.app_context():
        summary = summaries([empty.id])[empty.id]
    assert (summary.registered, summary.checked_in, summary.visitors) == (0, 0, 0)
    assert summary.spend == Decimal("0.00")
    assert summary.attendance_rate is None


def test_no_events_no_queries(app):
    with app.app_context():
        assert summaries([]) == {}


def test_the_channel_figures(app, event, expo):
    rows = figures_by_channel(app, event)

    assert set(rows) == {"wechat-1", "sms-1", "poster-1", None}
    wechat = rows["wechat-1"]
    assert (wechat.visitors, wechat.registrations, wechat.checked_in) == (3, 3, 1)
    assert wechat.registration_rate == pytest.approx(1.0)
    assert wechat.cost_per_registration == Decimal("333.33")

    sms = rows["sms-1"]
    assert (sms.visitors, sms.registrations, sms.checked_in) == (1, 1, 1)
    assert sms.cost_per_registration is None  # it cost nothing

    poster = rows["poster-1"]
    assert (poster.visitors, poster.registrations, poster.checked_in) == (0, 0, 0)
    assert poster.registration_rate is None
    assert poster.cost_per_registration is None  # nothing to divide by

    direct = rows[None]
    assert (direct.visitors, direct.registrations, direct.checked_in) == (1, 1, 0)
    assert direct.spend == Decimal("0.00")


@pytest.mark.parametrize(("spend", "registrations", "cost"), [
    ("1000.00", 3, Decimal("333.33")),
    ("200.00", 3, Decimal("66.67")),
    ("0.05", 2, Decimal("0.03")),  # half a cent rounds up, as everywhere money is rounded
    ("12.50", 4, Decimal("3.13")),
    ("99.99", 1, Decimal("99.99")),
])
def test_the_cost_per_registration_is_rounded_to_cents(app, make, event, spend, registrations,
                                                        cost):
    channel = make.channel(event, code="c", spend=spend)
    for _ in range(registrations):
        make.registration(event, channel=channel)
    make.registration(event, channel=channel, status=CANCELLED)  # not a registration

    row = figures_by_channel(app, event)["c"]

    assert row.registrations == registrations
    assert row.cost_per_registration == cost
    assert str(row.cost_per_registration) == str(cost)


def test_the_api_shows_the_same_figures(app, marketer_client, event, expo):
    response = marketer_client.get(f"/api/v1/events/{event.slug}")

    assert response.status_code == 200
    assert response.json["summary"] == {"confirmed": 4, "waitlisted": 1, "cancelled": 1,
                                        "checked_in": 2, "visitors": 4, "spend": "1100.00"}
    channels = {row["code"]: row for row in
                marketer_client.get(f"/api/v1/events/{event.slug}/channels").json}
    assert {code: (row["visitors"], row["registrations"], row["checked_in"])
            for code, row in channels.items()} == {"wechat-1": (3, 3, 1), "sms-1": (1, 1, 1),
                                                    "poster-1": (0, 0, 0)}


def test_the_overview_page_shows_the_cost_per_registration(marketer_client, event, expo):
    page = marketer_client.get(f"/events/{event.slug}/").get_data(as_text=True)
    assert "333.33" in page
    assert "Direct (no channel link)" in page
