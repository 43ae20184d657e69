"""On-site mode of the attendee's ticket page: once checked in, the page guides them through the
venue (floor plan, halls with their rooms and booths, agenda, booth list, help with a number to
call) with the QR code still one tap away; and marketing's set-up of it (the floor plan upload,
the questions and the help contact)."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from PIL import Image

from eventapp.checkin import onsite
from eventapp.core.time import utcnow
from eventapp.events.cover_images import prepare_cover
from eventapp.events.models import Event, RegistrationStatus
from eventapp.extensions import db
from tests.events.test_cover_image import picture
from tests.invites.test_booking import set_up
from tests.invites.test_invitation_page import ASSET, PAGE_WEIGHT_LIMIT

HELP = {"faq": [{"q": "Where is the cloakroom?", "a": "Next to the north entrance."},
                {"q": "有 Wi-Fi 吗？", "a": "有：Expo-Guest，密码 2026expo"}],
        "contact": "Service desk, north entrance", "phone": "+86 21 6888-0000"}
AGENDA = [{"time": "09:30", "title": "Opening keynote", "speaker": "王建国"},
          {"time": "11:00", "title": "Industrial AI panel", "speaker": ""}]


@pytest.fixture
def venue(make, event):
    """An event with two halls: rooms, booths, an entrance and a closed booth."""
    make.point(event, name="North gate", kind="entrance", hall="Blue Hall")
    make.point(event, name="Main stage", kind="session", hall="Blue Hall",
               location="Ground floor")
    make.point(event, name="Room 201", kind="session", hall="Red Hall", location="2nd floor")
    make.point(event, name="Flexible lines", kind="booth", hall="Blue Hall", location="A12")
    make.point(event, name="Machine vision", kind="booth", hall="Red Hall", location="B03")
    make.point(event, name="Gone booth", kind="booth", hall="Red Hall", location="Z99",
               active=False)
    make.point(event, name="Gift desk", kind="gift_desk", hall="Blue Hall")
    return event


def checked_in(make, event, **fields):
    return make.registration(event, make.contact(name="李雷"),
                             checked_in_at=utcnow() - timedelta(minutes=20), **fields)


def sections(page: str) -> dict[str, str]:
    """The on-site page's sections by their id."""
    found = dict(re.findall(r'<section[^>]* id="([\w-]+)">(.*?)</section>', page, re.S))
    found.update(re.findall(r'<details[^>]* id="(ticket-qr)">(.*?)</details>', page, re.S))
    return found


# --- the ticket page on site -------------------------------------------------------------------

def test_a_checked_in_ticket_page_becomes_a_guide_to_the_venue(app, make, client, venue):
    set_up(app, venue, agenda=AGENDA, venue_help=HELP, floor_plan_image=None)
    registration = checked_in(make, venue)

    response = client.get(f"/t/{registration.ticket_token}")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "You are checked in" in page and "李雷" in page
    assert "/static/checkin/onsite.css" in page
    parts = sections(page)
    # The halls, each with its open rooms and booths and where to find them.
    venue_part = parts["venue"]
    assert venue_part.index("Blue Hall") < venue_part.index("Main stage") < venue_part.index(
        "Flexible lines") < venue_part.index("Red Hall") < venue_part.index("Room 201")
    for shown in ("Ground floor", "2nd floor", "A12", "B03"):
        assert shown in venue_part
    for hidden in ("North gate", "Gift desk", "Gone booth"):
        assert hidden not in page
    assert "Opening keynote" in parts["agenda"] and "王建国" in parts["agenda"]
    booths = parts["booths"]
    assert booths.index("Flexible lines") < booths.index("Machine vision")
    assert "Red Hall" in booths
    help_part = parts["help"]
    assert "Where is the cloakroom?" in help_part and "密码 2026expo" in help_part
    assert "Service desk, north entrance" in help_part
    assert 'href="tel:+862168880000"' in help_part
    # The QR code is one tap away (closed, loaded only when opened) for rooms and booths.
    qr = parts["ticket-qr"]
    assert f'src="/t/{registration.ticket_token}/qr.png"' in qr and 'loading="lazy"' in qr
    assert registration.ticket_code in qr
    assert "<details" in page.split('id="ticket-qr"')[0][-80:]
    # Before check-in things are gone: cancelling, sharing.
    assert "Cancel my booking" not in page


def test_the_floor_plan_shows_on_site_and_is_served_to_anyone(app, make, client, venue):
    with app.test_request_context(method="POST"):
        event = db.session.get(Event, venue.id)
        onsite.set_floor_plan(event, prepare_cover(io.BytesIO(picture()), 5_000_000))
        db.session.commit()
        name = event.floor_plan_image
    registration = checked_in(make, venue)

    page = client.get(f"/t/{registration.ticket_token}").get_data(as_text=True)

    url = f"/events/{venue.slug}/floor-plan/{name}"
    assert f'src="{url}"' in page and f'href="{url}"' in page
    image = client.get(url)
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert "immutable" in image.headers["Cache-Control"]
    assert Image.open(io.BytesIO(image.data)).format == "JPEG"
    assert client.get(f"/events/{venue.slug}/floor-plan/{venue.id}-plan-0000000000000000.jpg"
                      ).status_code == 404
    assert client.get(f"/events/{venue.slug}/floor-plan/..%2Fsecret_key").status_code == 404


def test_before_check_in_and_when_cancelled_the_page_stays_a_ticket(app, make, client, venue):
    set_up(app, venue, venue_help=HELP)
    waiting = make.registration(venue)
    cancelled = make.registration(venue, status=RegistrationStatus.CANCELLED,
                                  checked_in_at=utcnow())
    for registration in (waiting, cancelled):
        page = client.get(f"/t/{registration.ticket_token}").get_data(as_text=True)
        assert "You are checked in" not in page
        assert "Where is the cloakroom?" not in page
        assert "onsite.css" not in page


def test_on_site_with_nothing_set_up_still_helps(app, make, client, event):
    registration = checked_in(make, event)
    page = client.get(f"/t/{registration.ticket_token}").get_data(as_text=True)
    parts = sections(page)
    assert "You are checked in" in page
    assert set(parts) == {"ticket-qr", "help"}
    assert "Ask any member of staff" in parts["help"]


def test_the_on_site_page_is_light_and_asks_nothing_from_other_sites(app, make, client, venue):
    set_up(app, venue, agenda=AGENDA * 5, venue_help={**HELP, "faq": HELP["faq"] * 8})
    for n in range(12):
        make.point(venue, name=f"Booth {n} of a long-named exhibitor", kind="booth",
                   hall="Blue Hall", location=f"C{n:02d}")
    registration = checked_in(make, venue)
    response = client.get(f"/t/{registration.ticket_token}")
    page = response.get_data(as_text=True)

    assets = ASSET.findall(page)
    assert assets and all(url.startswith("/") and not url.startswith("//") for url in assets)
    weight = len(response.data)
    for url in assets:
        if url.endswith((".css", ".js")):
            asset = client.get(url)
            assert asset.status_code == 200
            weight += len(asset.data)
    assert weight < PAGE_WEIGHT_LIMIT, f"{weight} bytes of HTML, CSS and JS"


def test_the_guide_in_chinese(app, make, client, venue):
    set_up(app, venue, venue_help=HELP)
    registration = checked_in(make, venue)
    page = client.get(f"/t/{registration.ticket_token}",
                      headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "您已签到" in page
    assert "You are checked in" not in page


# --- the help: questions and whom to call -------------------------------------------------------

def help_page(client, event):
    return client.get(f"/events/{event.slug}/checkin/venue-help")


def fingerprint_of(page: str) -> str:
    return re.search(r'name="fingerprint"[^>]*value="([^"]*)"', page).group(1)


def test_marketing_writes_the_questions_and_the_help_contact(app, make, marketer_client,
                                                             event, client):
    page = help_page(marketer_client, event)
    assert page.status_code == 200
    fingerprint = fingerprint_of(page.get_data(as_text=True))

    response = marketer_client.post_form(f"/events/{event.slug}/checkin/venue-help", {
        "fingerprint": fingerprint, "faq-0-q": "  Where is lunch? ", "faq-0-a": "Hall 2, 12:00",
        "faq-1-q": "", "faq-1-a": "", "faq-2-q": "Wi-Fi?", "faq-2-a": "Expo-Guest",
        "contact": "Info desk", "phone": "+86 21 6888 0000"})

    assert response.status_code == 303
    with app.app_context():
        stored = db.session.get(Event, event.id).venue_help
    assert stored == {"faq": [{"q": "Where is lunch?", "a": "Hall 2, 12:00"},
                              {"q": "Wi-Fi?", "a": "Expo-Guest"}],
                      "contact": "Info desk", "phone": "+86 21 6888 0000"}
    again = help_page(marketer_client, event).get_data(as_text=True)
    assert 'value="Where is lunch?"' in again and "Expo-Guest" in again
    assert again.count('name="faq-') == 2 * (2 + 3)  # the two questions and three empty rows
    registration = checked_in(make, event)
    ticket = client.get(f"/t/{registration.ticket_token}").get_data(as_text=True)
    assert "Where is lunch?" in ticket and 'href="tel:+862168880000"' in ticket


def test_a_question_without_an_answer_and_a_bad_phone_are_refused(app, marketer_client, event):
    fingerprint = fingerprint_of(help_page(marketer_client, event).get_data(as_text=True))
    response = marketer_client.post_form(f"/events/{event.slug}/checkin/venue-help", {
        "fingerprint": fingerprint, "faq-0-q": "Parking?", "faq-0-a": "",
        "contact": "Desk", "phone": "call us"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Write the answer, or clear the question." in page
    assert "Enter a phone number with digits only" in page
    assert 'value="Parking?"' in page  # what was typed stays
    with app.app_context():
        assert db.session.get(Event, event.id).venue_help in ({}, None)


def test_a_save_over_a_colleagues_change_is_refused(app, marketer_client, event):
    fingerprint = fingerprint_of(help_page(marketer_client, event).get_data(as_text=True))
    set_up(app, event, venue_help={"faq": [{"q": "Colleague's", "a": "Answer"}]})
    response = marketer_client.post_form(f"/events/{event.slug}/checkin/venue-help", {
        "fingerprint": fingerprint, "faq-0-q": "Mine", "faq-0-a": "Mine too"},
        follow_redirects=True)
    assert "The help was changed meanwhile" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Event, event.id).venue_help["faq"][0]["q"] == "Colleague's"


def test_too_many_questions_are_refused(app):
    with pytest.raises(onsite.ValidationFailed) as refused:
        with app.app_context():
            onsite.save_venue_help(Event(venue_help={}), fingerprint="",
                                   faq=[(f"Q{n}", "A") for n in
                                                               range(onsite.MAX_FAQ + 1)],
                                   contact="", phone="")
    assert "faq" in refused.value.details


@pytest.mark.parametrize("role, status", [("staff", 403), ("supervisor", 403), ("sales", 403),
                                          (None, 403), ("marketer", 200), ("admin", 200)])
def test_only_marketing_sets_up_the_on_site_guide(app, make, event, client, role, status):
    user = make.user(admin=role == "admin")
    if role not in (None, "admin"):
        make.membership(event, user, role)
    client.login(user.email, make.PASSWORD)
    assert help_page(client, event).status_code == status
    posted = client.post_form(f"/events/{event.slug}/checkin/venue-help/floor-plan/remove")
    assert posted.status_code == (303 if status == 200 else 403)


def test_the_set_up_pages_link_to_the_on_site_guide_and_badges(marketer_client, event):
    page = marketer_client.get(f"/events/{event.slug}/setup").get_data(as_text=True)
    assert f'href="/events/{event.slug}/checkin/venue-help"' in page
    assert f'href="/events/{event.slug}/checkin/badges"' in page
    own = help_page(marketer_client, event).get_data(as_text=True)
    assert re.search(r'href="/events/[^"]+/checkin/venue-help" aria-current="page"', own)


# --- the floor plan -----------------------------------------------------------------------------

def upload_plan(client, event, data: bytes, name: str = "plan.png"):
    return client.post(f"/events/{event.slug}/checkin/venue-help/floor-plan",
                       data={"csrf_token": client.csrf_token(), "image": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_a_floor_plan_is_checked_re_encoded_and_replaces_the_last_one(app, marketer_client,
                                                                      event):
    first = upload_plan(marketer_client, event, picture("PNG", (2400, 1600)))
    assert first.status_code == 303
    with app.app_context():
        name = db.session.get(Event, event.id).floor_plan_image
        folder = onsite.setup.covers_folder()
    assert re.fullmatch(rf"{event.id}-plan-[0-9a-f]{{16}}\.jpg", name)
    stored = Image.open(folder / name)
    assert stored.format == "JPEG" and stored.width <= 1600
    page = help_page(marketer_client, event).get_data(as_text=True)
    assert f"/events/{event.slug}/floor-plan/{name}" in page

    second = upload_plan(marketer_client, event, picture("PNG", (800, 600), color=(200, 0, 0)))
    assert second.status_code == 303
    with app.app_context():
        newer = db.session.get(Event, event.id).floor_plan_image
    assert newer != name and not (folder / name).exists() and (folder / newer).exists()

    removed = marketer_client.post_form(
        f"/events/{event.slug}/checkin/venue-help/floor-plan/remove")
    assert removed.status_code == 303
    with app.app_context():
        assert db.session.get(Event, event.id).floor_plan_image is None
    assert not (folder / newer).exists()


def test_a_file_that_is_not_a_picture_is_refused_as_for_covers(app, marketer_client, event):
    response = upload_plan(marketer_client, event, b"<svg onload=alert(1)></svg>", "plan.svg")
    assert response.status_code == 422
    assert "This file is a web page or an SVG drawing, not a picture." in response.get_data(
        as_text=True)
    with app.app_context():
        assert db.session.get(Event, event.id).floor_plan_image is None


def test_a_floor_plan_never_deletes_the_cover(app, marketer_client, event):
    """Covers and plans share a folder: removing one never removes the other's file."""
    data = picture("PNG", (900, 600))
    marketer_client.post(f"/events/{event.slug}/setup/cover",
                         data={"csrf_token": marketer_client.csrf_token(),
                               "image": (io.BytesIO(data), "c.png")},
                         content_type="multipart/form-data")
    upload_plan(marketer_client, event, data)
    marketer_client.post_form(f"/events/{event.slug}/checkin/venue-help/floor-plan/remove")
    with app.app_context():
        cover = db.session.get(Event, event.id).cover_image
        assert cover and (onsite.setup.covers_folder() / cover).exists()


def test_an_upload_by_someone_not_on_the_team_stores_nothing(app, make, event, client):
    outsider = make.user()
    client.login(outsider.email, make.PASSWORD)
    assert upload_plan(client, event, picture("PNG")).status_code == 403
    with app.app_context():
        folder = onsite.setup.covers_folder()
        assert not folder.exists() or not list(folder.glob("*-plan-*"))


# --- the demo -----------------------------------------------------------------------------------

@pytest.mark.single_db
def test_the_demo_shows_on_site_mode_to_its_checked_in_attendees(app, client):
    import sqlalchemy as sa

    from eventapp.events.models import Registration

    assert app.test_cli_runner().invoke(args=["seed-demo", "--contacts", "150"]).exit_code == 0
    with app.app_context():
        event = db.session.scalar(sa.select(Event))
        token = db.session.scalar(sa.select(Registration.ticket_token).where(
            Registration.event_id == event.id, Registration.checked_in_at.is_not(None),
            Registration.status == RegistrationStatus.CONFIRMED).limit(1))
        plan, slug = event.floor_plan_image, event.slug
    page = client.get(f"/t/{token}").get_data(as_text=True)
    parts = sections(page)
    assert f'src="/events/{slug}/floor-plan/{plan}"' in parts["venue"]
    assert client.get(f"/events/{slug}/floor-plan/{plan}").status_code == 200
    assert "主论坛 Main forum" in parts["venue"] and "C21" in parts["booths"]
    assert "Where is the cloakroom?" in parts["help"]
    assert 'href="tel:+862168882026"' in parts["help"]


def test_halls_come_in_the_order_they_were_set_up_and_places_without_one_last(app, make,
                                                                             event):
    make.point(event, name="Lounge", kind="session", hall="")
    make.point(event, name="主论坛", kind="session", hall="蓝厅")
    make.point(event, name="B 展位", kind="booth", hall="红厅")
    make.point(event, name="A 展位", kind="booth", hall="蓝厅")
    with app.app_context():
        halls = onsite.halls_of(db.session.get(Event, event.id))
    assert [(h.name, [p.name for p in h.sessions], [p.name for p in h.booths]) for h in halls] == [
        ("蓝厅", ["主论坛"], ["A 展位"]), ("红厅", [], ["B 展位"]), ("", ["Lounge"], [])]
