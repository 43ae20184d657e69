"""An administrator creates events; the creator joins its team as marketer. Wrong values are
shown under their fields and create nothing."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from eventapp.events.models import Event, EventRole, EventStatus, Membership
from eventapp.extensions import db

FORM = {"title": "上海工业自动化展 2025", "slug": "auto-expo-2025",
        "starts_at": "2025-09-16T09:00", "ends_at": "2025-09-16T17:30",
        "timezone": "Asia/Shanghai", "currency": "CNY", "venue": "国家会展中心",
        "capacity": "300", "address": "上海市青浦区崧泽大道333号"}


def events(app) -> dict[str, Event]:
    with app.app_context():
        return {e.slug: e for e in db.session.scalars(sa.select(Event))}


def create(client, **changes):
    return client.post_form("/events/new", {**FORM, **changes})


def test_an_admin_creates_an_event_and_becomes_its_marketer(app, admin_client):
    response = create(admin_client)

    assert response.status_code == 302
    assert response.headers["Location"] == "/events/auto-expo-2025/"
    event = events(app)["auto-expo-2025"]
    assert (event.title, event.status, event.capacity, event.currency, event.venue) == (
        "上海工业自动化展 2025", EventStatus.DRAFT, 300, "CNY", "国家会展中心")
    # 09:00 in Shanghai is 01:00 UTC
    assert event.starts_at == datetime(2025, 9, 16, 1, 0, tzinfo=timezone.utc)
    assert event.ends_at == datetime(2025, 9, 16, 9, 30, tzinfo=timezone.utc)
    with app.app_context():
        role = db.session.scalar(sa.select(Membership.role).where(
            Membership.event_id == event.id, Membership.user_id == admin_client.user.id))
    assert role == EventRole.MARKETER
    page = admin_client.get(response.headers["Location"])
    assert page.status_code == 200
    assert "The event is created as a draft." in page.get_data(as_text=True)


def test_a_typed_slug_is_kept_in_lower_case(app, admin_client):
    assert create(admin_client, slug="Auto-Expo-2025").status_code == 302
    assert "auto-expo-2025" in events(app)


def test_a_long_slug_up_to_eighty_characters_is_fine(app, admin_client):
    slug = "shanghai-international-industrial-automation-and-robotics-expo-2025"
    assert 32 < len(slug) <= 80

    response = create(admin_client, slug=slug)

    assert response.status_code == 302
    assert slug in events(app)


def test_no_capacity_means_no_limit(app, admin_client):
    assert create(admin_client, capacity="").status_code == 302
    assert events(app)["auto-expo-2025"].capacity is None


@pytest.mark.parametrize("role", ["marketer", "staff", "sales", "outsider"])
def test_only_an_admin_may_create_an_event(app, request, event, role):
    client = request.getfixturevalue(f"{role}_client")

    assert client.get("/events/new").status_code == 403
    response = create(client)

    assert response.status_code == 403
    assert "No access" in response.get_data(as_text=True)
    assert set(events(app)) == {event.slug}


def test_the_new_event_page_needs_a_session(client):
    response = client.get("/events/new")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.single_db
@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"slug": "bad slug!"}, "slug", "Use lower-case letters, digits and dashes."),
    ({"slug": "-dash-first"}, "slug", "Use lower-case letters, digits and dashes."),
    ({"slug": "会展"}, "slug", "Use lower-case letters, digits and dashes."),
    ({"slug": "a" * 81}, "slug", "Field cannot be longer than 80 characters."),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone", "Unknown timezone."),
    ({"ends_at": "2025-09-16T08:00"}, "ends_at", "The event must end after it starts."),
    ({"ends_at": "2025-09-16T09:00"}, "ends_at", "The event must end after it starts."),
    ({"currency": "XYZ"}, "currency", "Unknown currency code."),
    ({"capacity": "0"}, "capacity", "Enter a whole number of at least 1."),
    # More than an INTEGER column holds: the form's error, not a database error.
    ({"capacity": str(10**12)}, "capacity",
     "Enter a number of places from 1 to 1,000,000, or leave it empty for no limit."),
    ({"title": ""}, "title", "This field is required."),
])
def test_a_wrong_value_is_shown_under_its_field(app, admin_client, event, field_errors,
                                                changes, field, message):
    response = create(admin_client, **changes)

    assert response.status_code == 200
    assert field_errors(response, field) == [message]
    assert set(events(app)) == {event.slug}


def test_a_slug_in_use_is_shown_under_its_field(app, make, admin_client, field_errors):
    make.event(slug="auto-expo-2025", title="Existing")

    response = create(admin_client)

    assert response.status_code == 200
    assert field_errors(response, "slug") == ["Another event already uses this web address."]
    assert events(app)["auto-expo-2025"].title.startswith("Existing")


def test_the_new_event_form_needs_the_csrf_token(app, admin_client, event):
    response = admin_client.post("/events/new", data=FORM)
    assert response.status_code == 400
    assert set(events(app)) == {event.slug}
