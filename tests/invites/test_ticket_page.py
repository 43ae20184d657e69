"""The attendee's ticket page, /t/<token>: a secret address showing the ticket's QR code (which
a real decoder reads back to the signed payload), the waiting-list queue, the event, the
calendar file, the personal share link, and the cancel button that frees the place for the
next person waiting."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
import sqlalchemy as sa

from eventapp.core.activity import ActivityKind
from eventapp.core.outbox import Medium, OutboxMessage
from eventapp.core.time import utcnow
from eventapp.events.models import Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.links import message_ref
from eventapp.invites.tickets import verify_ticket
from tests.invites.test_booking import (activities_of, book, public_key, registrations_of,
                                        set_up)

ZBARIMG = shutil.which("zbarimg")


def decode_qr(image: bytes, folder: Path) -> str:
    """What a real QR decoder (zbar) reads in the image."""
    if ZBARIMG is None:
        pytest.skip("zbarimg is not installed (apt-get install zbar-tools)")
    path = folder / "qr.png"
    path.write_bytes(image)
    result = subprocess.run([ZBARIMG, "--raw", "-q", str(path)], capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def booked(app: Any, client: Any, event: Any, **fields: Any) -> tuple[str, Registration]:
    """Book through the form; the ticket page's address and the registration."""
    response = book(client, event, **fields)
    assert response.status_code == 303
    url = response.headers["Location"]
    registration = next(r for r in registrations_of(app, event)
                        if url == f"/t/{r.ticket_token}")
    return url, registration


def status_of(app: Any, registration: Registration) -> RegistrationStatus:
    with app.app_context():
        return db.session.get(Registration, registration.id).status


# --- what the page shows ------------------------------------------------------------------

def test_a_confirmed_ticket_shows_its_qr_code_the_event_and_the_share_link(
        app, make, client, event):
    set_up(app, event, map_url="https://map.example.com/hall-a", transport_notes="Metro 2")
    channel = make.channel(event, code="article")
    url, registration = booked(app, client, event, query={"c": "article"}, name="张伟")
    visitor = client.get_cookie("eventapp_vid").value

    response = client.get(url)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    token = registration.ticket_token
    for text in ("Confirmed", "张伟", event.title, f'src="/t/{token}/qr.png"',
                 registration.ticket_code, "Hall A", "1 Expo Road", "Metro 2",
                 'href="https://map.example.com/hall-a"', f'href="/t/{token}/event.ics"',
                 f'action="/t/{token}/cancel"', "data-confirm=", "Cancel my booking",
                 f'value="http://127.0.0.1:5000/e/{event.slug}?r={registration.share_code}"'):
        assert text in page, text
    if "share.ticket_share_qr" in app.view_functions:  # built beside this page
        assert f'src="/t/{token}/share.png"' in page
        assert f'href="/t/{token}/poster.png"' in page
    [view] = activities_of(app, ActivityKind.TICKET_VIEW)
    assert (view.contact_id, view.channel_id, view.reference, view.visitor_id) == (
        registration.contact_id, channel.id, f"registration:{registration.id}", visitor)


def test_the_qr_image_decodes_to_a_ticket_signed_with_the_events_key(
        app, client, event, tmp_path):
    url, registration = booked(app, client, event)

    png = client.get(f"{url}/qr.png")

    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.headers["Cache-Control"] == "private, no-cache"
    payload = decode_qr(png.data, tmp_path)
    assert payload == registration.ticket_code
    claim = verify_ticket(payload, event.id, public_key(app, event))
    assert claim.serial == registration.ticket_serial
    again = client.get(f"{url}/qr.png", headers={"If-None-Match": png.headers["ETag"]})
    assert again.status_code == 304
    svg = client.get(f"{url}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    assert svg.headers["Cache-Control"] == "private, no-cache"


def test_a_waitlisted_ticket_shows_its_place_in_the_queue(app, make, client, event):
    set_up(app, event, capacity=1)
    make.registration(event)
    booked(app, app.test_client(), event, phone="13600000001")
    url, second = booked(app, client, event, phone="13600000002")

    page = client.get(url).get_data(as_text=True)

    assert "Waiting list" in page and "Number 2 in the queue" in page
    assert "qr.png" not in page
    assert client.get(f"{url}/qr.png").status_code == 404
    assert second.status == RegistrationStatus.WAITLISTED


def test_a_checked_in_ticket_says_so_and_cannot_be_cancelled(app, make, client, event):
    registration = make.registration(event, checked_in_at=utcnow() - timedelta(minutes=5))
    url = f"/t/{registration.ticket_token}"

    page = client.get(url).get_data(as_text=True)
    assert "Checked in" in page and "Cancel my booking" not in page

    response = client.post_form(f"{url}/cancel", follow_redirects=True)
    assert "You have already checked in; the booking can no longer be cancelled." in (
        response.get_data(as_text=True))
    assert status_of(app, registration) == RegistrationStatus.CONFIRMED


def test_an_unknown_ticket_is_not_found(client):
    for url in ("/t/no-such-ticket", "/t/" + "x" * 40, "/t/no-such-ticket/qr.png",
                "/t/no-such-ticket/event.ics"):
        response = client.get(url)
        assert response.status_code == 404, url
    page = client.get("/t/no-such-ticket").get_data(as_text=True)
    assert "This link does not lead to an invitation or a ticket." in page
    assert "Back to my events" not in page


def test_a_message_link_to_the_ticket_is_counted_as_a_click(app, make, client, event):
    registration = make.registration(event)
    with app.app_context():
        message = OutboxMessage(medium=Medium.SMS, kind="ticket", recipient="+8613800000000",
                                locale="zh_CN", event_id=event.id,
                                contact_id=registration.contact_id,
                                registration_id=registration.id)
        db.session.add(message)
        db.session.commit()
        ref = message_ref(message.id)

    response = client.get(f"/t/{registration.ticket_token}?m={ref}")

    assert response.status_code == 200
    assert "eventapp_vid=" in response.headers.get("Set-Cookie", "")
    [click] = activities_of(app, ActivityKind.MESSAGE_CLICK)
    assert (click.contact_id, click.reference) == (registration.contact_id,
                                                   f"message:{message.id}")


# --- add to calendar ----------------------------------------------------------------------

def test_the_calendar_file_holds_the_event_in_its_timezone(app, client, event):
    set_up(app, event, description="Smart factories.", transport_notes="Metro line 2")
    url, registration = booked(app, client, event)

    response = client.get(f"{url}/event.ics")

    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{event.slug}.ics"'
    assert response.headers["Cache-Control"] == "no-store"
    calendar = icalendar.Calendar.from_ical(response.data)
    [entry] = calendar.walk("VEVENT")
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    start, end = entry.decoded("DTSTART"), entry.decoded("DTEND")
    assert start == event.starts_at.replace(microsecond=0)  # iCalendar counts whole seconds
    assert end == event.ends_at.replace(microsecond=0)
    assert start.tzinfo is not None and start.utcoffset() == timedelta(hours=8)
    assert str(entry["DTSTART"].params["TZID"]) == "Asia/Shanghai"
    ticket_link = f"http://127.0.0.1:5000{url}"
    assert str(entry["UID"]) == f"event-{event.id}-registration-{registration.id}@127.0.0.1"
    assert str(entry["SUMMARY"]) == event.title
    assert str(entry["LOCATION"]) == "Hall A, 1 Expo Road"
    assert str(entry["URL"]) == ticket_link
    assert str(entry["STATUS"]) == "CONFIRMED"
    description = str(entry["DESCRIPTION"])
    assert "Smart factories." in description and "Metro line 2" in description
    assert ticket_link in description
    assert entry.walk("VALARM"), "a reminder before the event"


def test_in_wechat_the_page_says_how_to_add_the_event_to_a_calendar(app, client, event):
    url, _registration = booked(app, client, event)
    wechat = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI")
    hint = "WeChat cannot add events to your calendar"
    assert hint in client.get(url, headers={"User-Agent": wechat}).get_data(as_text=True)
    assert hint not in client.get(url).get_data(as_text=True)


# --- cancelling ---------------------------------------------------------------------------

def test_cancelling_frees_the_place_for_the_longest_waiting_person(app, make, client, event):
    set_up(app, event, capacity=1)
    url, mine = booked(app, client, event, phone="13600000001")
    first_waiting = make.registration(event, status=RegistrationStatus.WAITLISTED)
    make.registration(event, status=RegistrationStatus.WAITLISTED)

    response = client.post_form(f"{url}/cancel")

    assert response.status_code == 303 and response.headers["Location"] == url
    page = client.get(url).get_data(as_text=True)
    assert "Your booking is cancelled and your ticket no longer works." in page
    assert "This booking is cancelled; its ticket no longer works." in page
    assert f'href="/e/{event.slug}"' in page and "Book again" in page
    assert "Cancel my booking" not in page and "qr.png" not in page
    statuses = [r.status for r in registrations_of(app, event)]
    assert statuses == [RegistrationStatus.CANCELLED, RegistrationStatus.CONFIRMED,
                        RegistrationStatus.WAITLISTED]
    with app.app_context():
        promoted = [(m.kind, m.registration_id) for m in db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.kind == "promoted"))]
    assert promoted == [("promoted", first_waiting.id)] * 2  # by e-mail and by SMS
    [cancellation] = activities_of(app, ActivityKind.CANCELLATION)
    assert cancellation.reference == f"registration:{mine.id}"
    assert client.get(f"{url}/qr.png").status_code == 404


def test_cancelling_twice_changes_nothing_more(app, client, event):
    url, registration = booked(app, client, event)
    client.post_form(f"{url}/cancel")

    again = client.post_form(f"{url}/cancel", follow_redirects=True)

    assert again.status_code == 200
    assert "This booking was already cancelled." in again.get_data(as_text=True)
    assert len(activities_of(app, ActivityKind.CANCELLATION)) == 1
    assert status_of(app, registration) == RegistrationStatus.CANCELLED


def test_cancelling_needs_the_pages_csrf_token(app, client, event):
    url, registration = booked(app, client, event)
    response = client.post(f"{url}/cancel")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This page has expired." in page and f'href="{url}"' in page
    assert status_of(app, registration) == RegistrationStatus.CONFIRMED
