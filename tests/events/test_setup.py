"""Marketing sets an event up: its details (each saved and checked), the agenda, and publishing.
Capacity changes move people off the waiting list; only marketers and admins get in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from html import unescape

import pytest
import sqlalchemy as sa

from eventapp.core.outbox import OutboxMessage
from eventapp.core.time import utcnow
from eventapp.events.models import Event, EventStatus, Registration, RegistrationStatus
from eventapp.events.setup import MAX_AGENDA_ITEMS, agenda_fingerprint
from eventapp.extensions import db

DETAILS = {
    "title": "2026 智能制造峰会", "starts_at": "2030-12-03T09:00", "ends_at": "2030-12-03T17:30",
    "booking_deadline": "2030-12-02T18:00", "capacity": "300", "venue": "上海世博中心",
    "address": "上海市浦东新区国展路1099号", "map_url": "https://uri.amap.com/marker?position=121.49,31.18",
    "latitude": "31.1866", "longitude": "121.4904",
    "transport_notes": "地铁 8 号线中华艺术宫站 · Metro line 8, exit 2",
    "weather_note": "Bring a coat: mornings are cold in December.",
    "description": "Sixty exhibitors.\r\nTwo tracks.", "gift": "定制保温杯",
    "privacy_text": "We use your details for this event only.",
}


def stored(app, event) -> Event:
    with app.app_context():
        return db.session.get(Event, event.id)


def save(client, event, **changes):
    return client.post_form(f"/events/{event.slug}/setup", {**DETAILS, **changes})


def flashes(client, event, page: str = "setup") -> str:
    return unescape(client.get(f"/events/{event.slug}/{page}").get_data(as_text=True))


def statuses(app, event) -> list[tuple[str, RegistrationStatus]]:
    with app.app_context():
        return [(r.contact.name, r.status) for r in db.session.scalars(
            sa.select(Registration).where(Registration.event_id == event.id)
            .order_by(Registration.id))]


# --- details ------------------------------------------------------------------------------

def test_the_details_page_shows_times_in_the_events_timezone(marketer_client, make):
    event = make.event(starts_at=datetime(2030, 5, 1, 1, 30, tzinfo=timezone.utc))
    make.membership(event, marketer_client.user, "marketer")

    page = marketer_client.get(f"/events/{event.slug}/setup").get_data(as_text=True)

    assert 'value="2030-05-01T09:30"' in page  # 01:30 UTC is 09:30 in Shanghai
    assert "Asia/Shanghai" in page
    assert event.title in page
    assert 'aria-current="page">Set-up</a>' in page


def test_every_detail_is_saved(app, marketer_client, event):
    response = save(marketer_client, event)

    assert response.status_code == 302
    assert response.headers["Location"] == f"/events/{event.slug}/setup"
    saved = stored(app, event)
    assert (saved.title, saved.venue, saved.address, saved.capacity) == (
        "2026 智能制造峰会", "上海世博中心", "上海市浦东新区国展路1099号", 300)
    assert saved.map_url == DETAILS["map_url"]
    assert (saved.latitude, saved.longitude) == (31.1866, 121.4904)
    assert saved.transport_notes == DETAILS["transport_notes"]
    assert saved.weather_note == DETAILS["weather_note"]
    assert saved.description == "Sixty exhibitors.\nTwo tracks."
    assert (saved.gift, saved.privacy_text) == ("定制保温杯", DETAILS["privacy_text"])
    assert saved.starts_at == datetime(2030, 12, 3, 1, 0, tzinfo=timezone.utc)
    assert saved.ends_at == datetime(2030, 12, 3, 9, 30, tzinfo=timezone.utc)
    assert saved.booking_deadline == datetime(2030, 12, 2, 10, 0, tzinfo=timezone.utc)
    assert "The details are saved." in flashes(marketer_client, event)


def test_empty_optional_details_mean_none(app, marketer_client, event):
    response = save(marketer_client, event, capacity="", booking_deadline="", latitude="",
                    longitude="", map_url="", gift="")

    assert response.status_code == 302
    saved = stored(app, event)
    assert (saved.capacity, saved.booking_deadline, saved.latitude, saved.longitude) == (
        None, None, None, None)
    assert (saved.map_url, saved.gift) == ("", "")


MAP_ERROR = ("Enter a web address starting with https:// or http://, such as a link to the "
             "place on a map app.")
LATITUDE_ERROR = "Enter a number of degrees from -90 to 90, such as 31.2304."
LONGITUDE_ERROR = "Enter a number of degrees from -180 to 180, such as 31.2304."
CAPACITY_ERROR = "Enter a number of places from 1 to 1,000,000, or leave it empty for no limit."


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"map_url": "javascript:alert(1)"}, "map_url", MAP_ERROR),
    ({"map_url": "ftp://maps.example.com/x"}, "map_url", MAP_ERROR),
    ({"map_url": "maps.example.com"}, "map_url", MAP_ERROR),
    ({"map_url": "https://"}, "map_url", MAP_ERROR),
    ({"map_url": "https://example.com/a b"}, "map_url", MAP_ERROR),
    ({"latitude": "91"}, "latitude", LATITUDE_ERROR),
    ({"latitude": "north"}, "latitude", LATITUDE_ERROR),
    ({"latitude": "nan"}, "latitude", LATITUDE_ERROR),
    ({"longitude": "-180.5"}, "longitude", LONGITUDE_ERROR),
    ({"longitude": ""}, "longitude", "Enter both the latitude and the longitude, or neither."),
    ({"ends_at": "2030-12-03T08:00"}, "ends_at", "The event must end after it starts."),
    ({"booking_deadline": "2030-12-03T17:30"}, "booking_deadline",
     "Bookings must close before the event ends. Leave it empty to keep them open until then."),
    ({"booking_deadline": "2030-12-04T09:00"}, "booking_deadline",
     "Bookings must close before the event ends. Leave it empty to keep them open until then."),
    ({"capacity": "-5"}, "capacity", CAPACITY_ERROR),
    ({"capacity": "0"}, "capacity", CAPACITY_ERROR),
    ({"capacity": "5000000000"}, "capacity", CAPACITY_ERROR),
    ({"starts_at": "1999-12-31T09:00"}, "starts_at",
     "Enter a date between the years 2000 and 2100."),
    ({"title": "   "}, "title", "Give the event a title."),
])
def test_a_wrong_detail_is_shown_under_its_field_and_nothing_is_saved(
        app, marketer_client, event, field_errors, changes, field, message):
    response = save(marketer_client, event, **changes)

    assert response.status_code == 200
    assert message in field_errors(response, field)
    assert "Nothing was saved yet: correct the fields marked in red below." in unescape(
        response.get_data(as_text=True))
    saved = stored(app, event)
    assert (saved.title, saved.venue, saved.capacity) == (event.title, "Hall A", 100)


def test_a_too_long_text_is_refused(app, marketer_client, event, field_errors):
    response = save(marketer_client, event, gift="礼" * 201)
    assert response.status_code == 200
    assert field_errors(response, "gift")
    assert stored(app, event).gift == ""


# --- capacity and the waiting list --------------------------------------------------------

@pytest.fixture
def full_event(make, marketer_client):
    """Two places, both taken, and three people waiting (oldest first)."""
    event = make.event(capacity=2)
    make.membership(event, marketer_client.user, "marketer")
    for name in ("A", "B"):
        make.registration(event, make.contact(name=name))
    for name in ("W1", "W2", "W3"):
        make.registration(event, make.contact(name=name), status=RegistrationStatus.WAITLISTED)
    return event


def test_raising_the_capacity_confirms_the_longest_waiting(app, marketer_client, full_event):
    response = save(marketer_client, full_event, capacity="4")

    assert response.status_code == 302
    confirmed, waiting = RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED
    assert statuses(app, full_event) == [("A", confirmed), ("B", confirmed), ("W1", confirmed),
                                         ("W2", confirmed), ("W3", waiting)]
    with app.app_context():
        promoted = db.session.scalars(sa.select(OutboxMessage.kind).where(
            OutboxMessage.event_id == full_event.id)).all()
    assert promoted and set(promoted) == {"promoted"}  # each is sent their ticket
    assert "2 people moved up from the waiting list and are sent tickets." in flashes(
        marketer_client, full_event)


def test_removing_the_limit_confirms_everyone_waiting(app, marketer_client, full_event):
    save(marketer_client, full_event, capacity="")
    assert {status for _name, status in statuses(app, full_event)} == {
        RegistrationStatus.CONFIRMED}
    assert stored(app, full_event).capacity is None


def test_lowering_the_capacity_below_the_confirmed_is_allowed_and_explained(
        app, marketer_client, full_event):
    response = save(marketer_client, full_event, capacity="1")

    assert response.status_code == 302
    assert stored(app, full_event).capacity == 1
    assert [s for _n, s in statuses(app, full_event)][:2] == [RegistrationStatus.CONFIRMED] * 2
    page = flashes(marketer_client, full_event)
    assert "1 more person is confirmed than the new capacity allows. Nobody loses their place" in page


def test_a_failed_save_promotes_no_one(app, marketer_client, full_event):
    save(marketer_client, full_event, capacity="10", map_url="javascript:x")
    assert [s for _n, s in statuses(app, full_event)].count(RegistrationStatus.WAITLISTED) == 3


# --- agenda -------------------------------------------------------------------------------

def agenda_of(app, event) -> list[dict[str, str]]:
    return stored(app, event).agenda


def add_item(client, event, time: str, title: str, speaker: str = ""):
    return client.post_form(f"/events/{event.slug}/setup/agenda",
                            {"new-time": time, "new-title": title, "new-speaker": speaker})


def fingerprint(app, event, position: int) -> str:
    return agenda_fingerprint(agenda_of(app, event)[position])


def test_agenda_items_are_added_in_order_with_times_cleaned(app, marketer_client, event):
    assert add_item(marketer_client, event, "9:30", "Opening", "王建国").status_code == 302
    add_item(marketer_client, event, "10：00", "Keynote")
    add_item(marketer_client, event, "", "Lunch and exhibition")

    assert agenda_of(app, event) == [
        {"time": "09:30", "title": "Opening", "speaker": "王建国"},
        {"time": "10:00", "title": "Keynote", "speaker": ""},
        {"time": "", "title": "Lunch and exhibition", "speaker": ""}]
    page = flashes(marketer_client, event, "setup/agenda")
    assert "Added to the agenda." in page
    assert 'value="Lunch and exhibition"' in page


@pytest.mark.parametrize(("time", "title", "field", "message"), [
    ("25:00", "Opening", "new-time", "Enter a time as hours and minutes, such as 09:30."),
    ("nine", "Opening", "new-time", "Enter a time as hours and minutes, such as 09:30."),
    ("09:00", "", "new-title", "This field is required."),
    ("09:00", "x" * 201, "new-title", "Field cannot be longer than 200 characters."),
])
def test_a_wrong_agenda_item_is_refused(app, marketer_client, event, field_errors, time, title,
                                        field, message):
    response = add_item(marketer_client, event, time, title)
    assert response.status_code == 200
    assert field_errors(response, field) == [message]
    assert agenda_of(app, event) == []


def test_an_agenda_item_is_edited_moved_and_removed(app, marketer_client, event):
    for time, title in (("09:00", "One"), ("10:00", "Two"), ("11:00", "Three")):
        add_item(marketer_client, event, time, title)
    url = f"/events/{event.slug}/setup/agenda"

    marketer_client.post_form(f"{url}/1", {"fingerprint": fingerprint(app, event, 1),
                                           "item1-time": "10:15", "item1-title": "Two, later",
                                           "item1-speaker": "Dr. Mitchell"})
    assert agenda_of(app, event)[1] == {"time": "10:15", "title": "Two, later",
                                        "speaker": "Dr. Mitchell"}

    marketer_client.post_form(f"{url}/2/move", {"fingerprint": fingerprint(app, event, 2),
                                                "direction": "up"})
    assert [i["title"] for i in agenda_of(app, event)] == ["One", "Three", "Two, later"]
    marketer_client.post_form(f"{url}/0/move", {"fingerprint": fingerprint(app, event, 0),
                                                "direction": "down"})
    assert [i["title"] for i in agenda_of(app, event)] == ["Three", "One", "Two, later"]
    marketer_client.post_form(f"{url}/0/move", {"fingerprint": fingerprint(app, event, 0),
                                                "direction": "up"})  # already first: stays
    assert [i["title"] for i in agenda_of(app, event)] == ["Three", "One", "Two, later"]

    response = marketer_client.post_form(f"{url}/1/remove",
                                         {"fingerprint": fingerprint(app, event, 1)})
    assert response.status_code == 302
    assert [i["title"] for i in agenda_of(app, event)] == ["Three", "Two, later"]
    assert "Removed from the agenda." in flashes(marketer_client, event, "setup/agenda")


def test_a_wrong_edit_shows_its_error_beside_the_item(app, marketer_client, event,
                                                      field_errors):
    add_item(marketer_client, event, "09:00", "One")
    response = marketer_client.post_form(
        f"/events/{event.slug}/setup/agenda/0",
        {"fingerprint": fingerprint(app, event, 0), "item0-time": "9h", "item0-title": "One"})
    assert response.status_code == 200
    assert field_errors(response, "item0-time") == [
        "Enter a time as hours and minutes, such as 09:30."]
    assert agenda_of(app, event)[0]["time"] == "09:00"


def test_a_change_to_an_item_someone_else_changed_is_refused(app, marketer_client, event):
    add_item(marketer_client, event, "09:00", "One")
    add_item(marketer_client, event, "10:00", "Two")
    seen = fingerprint(app, event, 0)
    url = f"/events/{event.slug}/setup/agenda"
    marketer_client.post_form(f"{url}/0/move", {"fingerprint": seen, "direction": "down"})

    response = marketer_client.post_form(f"{url}/0/remove", {"fingerprint": seen})

    assert response.status_code == 302
    assert [i["title"] for i in agenda_of(app, event)] == ["Two", "One"]  # nothing removed
    assert "The agenda was changed meanwhile" in flashes(marketer_client, event, "setup/agenda")


def test_the_agenda_has_a_limit(app, make, marketer_client, event):
    with app.app_context():
        db.session.get(Event, event.id).agenda = [
            {"time": "09:00", "title": f"Item {n}", "speaker": ""} for n in range(MAX_AGENDA_ITEMS)]
        db.session.commit()

    response = add_item(marketer_client, event, "18:00", "One too many")

    assert response.status_code == 200
    assert len(agenda_of(app, event)) == MAX_AGENDA_ITEMS
    assert "The agenda has the most items it can have (50)." in unescape(
        response.get_data(as_text=True))


# --- publishing ---------------------------------------------------------------------------

@pytest.fixture
def draft(make, marketer_client):
    event = make.event(status=EventStatus.DRAFT)
    make.membership(event, marketer_client.user, "marketer")
    return event


def test_publishing_opens_the_invitation_and_shows_its_link(app, marketer_client, draft):
    page = flashes(marketer_client, draft)
    assert "Everything needed is there" in page
    assert f"/e/{draft.slug}" not in page

    response = marketer_client.post_form(f"/events/{draft.slug}/setup/publish")

    assert response.status_code == 302
    assert stored(app, draft).status == EventStatus.PUBLISHED
    page = flashes(marketer_client, draft)
    assert "The event is published." in page
    assert f"http://127.0.0.1:5000/e/{draft.slug}" in page


def test_publishing_returns_to_the_page_it_was_pressed_on(marketer_client, draft):
    response = marketer_client.post_form(f"/events/{draft.slug}/setup/publish",
                                         {"back": "form"})
    assert response.headers["Location"] == f"/events/{draft.slug}/setup/form"
    response = marketer_client.post_form(f"/events/{draft.slug}/setup/unpublish",
                                         {"back": "https://elsewhere.example"})
    assert response.headers["Location"] == f"/events/{draft.slug}/setup"


def test_publishing_says_what_is_missing(app, make, marketer_client):
    event = make.event(status=EventStatus.DRAFT, starts_at=utcnow() - timedelta(hours=1))
    make.membership(event, marketer_client.user, "marketer")
    with app.app_context():
        stored_event = db.session.get(Event, event.id)
        stored_event.venue = ""
        stored_event.booking_form = {"fields": {"phone": "optional", "email": "optional"}}
        db.session.commit()

    page = flashes(marketer_client, event)  # the checklist, before trying
    assert "Enter the venue, so people know where to go." in page
    marketer_client.post_form(f"/events/{event.slug}/setup/publish")

    assert stored(app, event).status == EventStatus.DRAFT
    page = flashes(marketer_client, event)
    assert "Not published yet." in page
    assert "Enter the venue, so people know where to go." in page
    assert "The start time has passed. Move the start into the future." in page
    assert "Fix the booking form: Make the mobile or the e-mail required" in page


def test_unpublishing_returns_to_draft_and_keeps_bookings(app, make, marketer_client, event):
    registration = make.registration(event)

    response = marketer_client.post_form(f"/events/{event.slug}/setup/unpublish")

    assert response.status_code == 302
    assert stored(app, event).status == EventStatus.DRAFT
    assert "The event is back to draft" in flashes(marketer_client, event)
    with app.app_context():
        assert db.session.get(Registration, registration.id).status == \
            RegistrationStatus.CONFIRMED


# --- who may set up -----------------------------------------------------------------------

PAGES = ["/events/{slug}/setup", "/events/{slug}/setup/agenda", "/events/{slug}/setup/form"]
ACTIONS = [
    ("/events/{slug}/setup", DETAILS),
    ("/events/{slug}/setup/agenda", {"new-time": "09:00", "new-title": "Sneaky"}),
    ("/events/{slug}/setup/form", {"city": "required"}),
    ("/events/{slug}/setup/form/questions", {"new-kind": "text", "new-label": "Sneaky?"}),
    ("/events/{slug}/setup/publish", {}),
    ("/events/{slug}/setup/unpublish", {}),
    ("/events/{slug}/setup/cover/remove", {}),
]


@pytest.fixture
def client_as(request):
    return lambda role: request.getfixturevalue(f"{role}_client")


@pytest.mark.parametrize("role", ["staff", "sales", "outsider"])
def test_only_marketers_open_the_set_up(app, client_as, event, role):
    client = client_as(role)
    for page in PAGES:
        response = client.get(page.format(slug=event.slug))
        assert response.status_code == 403, page
    for url, data in ACTIONS:
        response = client.post_form(url.format(slug=event.slug), data)
        assert response.status_code == 403, url
    saved = stored(app, event)
    assert (saved.title, saved.status, saved.agenda, saved.booking_form) == (
        event.title, EventStatus.PUBLISHED, [], {})


def test_without_a_session_the_set_up_sends_to_login(app, client, event):
    for page in PAGES:
        url = page.format(slug=event.slug)
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"] == f"/login?next={url}"
    for url, data in ACTIONS:
        response = client.post_form(url.format(slug=event.slug), data)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
    assert stored(app, event).status == EventStatus.PUBLISHED


def test_an_admin_sets_up_any_event(app, admin_client, event):
    for page in PAGES:
        assert admin_client.get(page.format(slug=event.slug)).status_code == 200
    assert save(admin_client, event, title="Renamed by the admin").status_code == 302
    assert stored(app, event).title == "Renamed by the admin"


def test_a_form_without_its_csrf_token_is_refused(app, marketer_client, event):
    response = marketer_client.post(f"/events/{event.slug}/setup", data=DETAILS)
    assert response.status_code == 400
    assert stored(app, event).title == event.title
