"""Channel QR codes (PNG and SVG) for marketing, and every attendee's personal share QR code:
decoded with a real decoder (zbar), checked for who may download them, and followed through to
a booking that credits the attendee who shared."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ElementTree
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import g, render_template
from flask_login import login_user
from PIL import Image, ImageDraw

from eventapp.auth.models import User
from eventapp.events import services as event_services
from eventapp.events.models import Event, EventRole, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.booking import BookingRequest, book

PUBLIC_URL = "https://events.example.cn"
SVG = "{http://www.w3.org/2000/svg}"
#: A QR module as qrcode's SVG path draws it: one closed square per dark module.
SVG_MODULE = re.compile(r"M(\d+),(\d+)H(\d+)V(\d+)H(\d+)z")


def zbar(image: bytes, tmp_path: Path) -> list[str]:
    """What zbar reads in a PNG: one payload per code found."""
    path = tmp_path / "scan.png"
    path.write_bytes(image)
    found = subprocess.run(["zbarimg", "--raw", "-q", str(path)], capture_output=True,
                           text=True, timeout=60)
    return found.stdout.splitlines()


def svg_as_png(svg: bytes, scale: int = 10) -> bytes:
    """Draw a qrcode SVG with Pillow: checks it is SVG XML whose one path is made of module
    squares only, and paints those squares black on white."""
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    _x, _y, width, height = (int(float(n)) for n in root.attrib["viewBox"].split())
    paths = root.findall(f"{SVG}path")
    assert len(paths) == 1
    data = paths[0].attrib["d"]
    squares = SVG_MODULE.findall(data)
    assert squares and "".join(m.group(0) for m in SVG_MODULE.finditer(data)) == data
    image = Image.new("L", (width * scale, height * scale), 255)
    draw = ImageDraw.Draw(image)
    for x1, y1, x2, y2, back in (map(int, square) for square in squares):
        assert back == x1 and x2 > x1 and y2 > y1
        draw.rectangle((x1 * scale, y1 * scale, x2 * scale - 1, y2 * scale - 1), fill=0)
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def channel(make, event):
    return make.channel(event, name="WeChat article", code="wechat-a")


@pytest.fixture
def public_url(app):
    app.config["PUBLIC_URL"] = PUBLIC_URL + "/"
    return PUBLIC_URL


def channel_url(event, channel, what: str) -> str:
    return f"/events/{event.slug}/channels/{channel.id}/{what}"


# --- marketing: each channel's QR code ------------------------------------------------------

def test_channel_png_decodes_to_the_channel_link(marketer_client, event, channel, public_url,
                                                 tmp_path):
    response = marketer_client.get(channel_url(event, channel, "qr.png"))

    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["Content-Disposition"] == \
        f"attachment; filename={event.slug}-wechat-a-qr.png"
    assert response.headers["Cache-Control"] == "no-store"  # as every signed-in answer
    assert zbar(response.data, tmp_path) == [f"{PUBLIC_URL}/e/{event.slug}?c=wechat-a"]
    width, height = Image.open(BytesIO(response.data)).size
    assert width == height >= 600  # sharp in print


def test_channel_svg_is_svg_of_the_same_link(marketer_client, event, channel, public_url,
                                            tmp_path):
    response = marketer_client.get(channel_url(event, channel, "qr.svg"))

    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.headers["Content-Disposition"] == \
        f"attachment; filename={event.slug}-wechat-a-qr.svg"
    assert zbar(svg_as_png(response.data), tmp_path) == \
        [f"{PUBLIC_URL}/e/{event.slug}?c=wechat-a"]


def test_a_renamed_code_gives_a_new_qr_code(app, marketer_client, event, channel, public_url,
                                            tmp_path):
    with app.app_context():
        stored = db.session.get(Event, event.id)
        event_services.update_channel(stored, channel.id, code="wechat-b")
        db.session.commit()

    response = marketer_client.get(channel_url(event, channel, "qr.png"))

    assert zbar(response.data, tmp_path) == [f"{PUBLIC_URL}/e/{event.slug}?c=wechat-b"]


DOWNLOADS = ("qr.png", "qr.svg", "poster.png")


@pytest.mark.parametrize("what", DOWNLOADS)
@pytest.mark.parametrize("role, status", [("marketer", 200), ("admin", 200), ("staff", 403),
                                          ("sales", 403), ("outsider", 403)])
def test_only_marketing_downloads_channel_material(request, event, channel, what, role, status):
    client = request.getfixturevalue(f"{role}_client")

    assert client.get(channel_url(event, channel, what)).status_code == status


@pytest.mark.parametrize("role, status", [("marketer", 200), ("admin", 200), ("staff", 403),
                                          ("sales", 403)])
def test_only_marketing_downloads_the_direct_poster(request, event, role, status):
    client = request.getfixturevalue(f"{role}_client")

    assert client.get(f"/events/{event.slug}/poster.png").status_code == status


@pytest.mark.parametrize("what", DOWNLOADS)
def test_anonymous_visitors_are_sent_to_log_in(client, event, channel, what):
    response = client.get(channel_url(event, channel, what))

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


@pytest.mark.parametrize("what", DOWNLOADS)
def test_a_channel_of_another_event_is_not_found(make, marketer_client, event, what):
    other_channel = make.channel(make.event(), code="theirs")

    response = marketer_client.get(channel_url(event, other_channel, what))

    assert response.status_code == 404


def test_the_channel_table_shows_links_and_downloads_to_marketing(marketer_client, event,
                                                                  channel, public_url):
    for page in (f"/events/{event.slug}/channels", f"/events/{event.slug}/"):
        html = marketer_client.get(page).get_data(as_text=True)

        assert f"{PUBLIC_URL}/e/{event.slug}?c=wechat-a</code>" in html
        for what in DOWNLOADS:
            assert f'href="{channel_url(event, channel, what)}"' in html
        assert f'href="/events/{event.slug}/poster.png"' in html
        assert f"{PUBLIC_URL}/e/{event.slug}</code>" in html  # the direct link


@pytest.mark.parametrize("role", [EventRole.STAFF, EventRole.SALES])
def test_the_channel_table_hides_links_from_other_roles(app, make, event, channel, role):
    user = make.user()
    with app.test_request_context(f"/events/{event.slug}/"):
        login_user(db.session.get(User, user.id))
        g.event_role = role
        stored = db.session.get(Event, event.id)
        html = render_template("events/_channel_table.html", event=stored,
                               channels=event_services.channel_figures(stored))

    assert "wechat-a" in html  # the figures are there
    assert "qr.png" not in html and "poster.png" not in html and "/e/" not in html


# --- attendees: their personal share QR code --------------------------------------------------

def test_share_qr_decodes_to_the_attendees_referral_link(client, make, event, public_url,
                                                        tmp_path):
    registration = make.registration(event)

    response = client.get(f"/t/{registration.ticket_token}/share.png")

    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["Content-Disposition"].startswith("inline")
    assert "private" in response.headers["Cache-Control"]
    assert zbar(response.data, tmp_path) == \
        [f"{PUBLIC_URL}/e/{event.slug}?r={registration.share_code}"]


def test_booking_through_a_share_link_credits_the_attendee_who_shared(app, client, make, event,
                                                                      tmp_path):
    sharer = make.registration(event)
    scanned = zbar(client.get(f"/t/{sharer.ticket_token}/share.png").data, tmp_path)[0]
    share_code = parse_qs(urlsplit(scanned).query)["r"][0]

    with app.app_context():
        stored = db.session.get(Event, event.id)
        result = book(stored, BookingRequest(
            form={"name": "李雷", "phone": "13900001234"}, consent=True, locale="zh_CN",
            share_code=share_code))
        db.session.commit()
        friend = db.session.get(Registration, result.registration.id)

    assert result.created
    assert friend.referrer_id == sharer.contact_id
    assert friend.contact_id != sharer.contact_id


def test_a_cancelled_booking_has_no_share_code_any_more(client, make, event):
    registration = make.registration(event, status=RegistrationStatus.CANCELLED)

    for what in ("share.png", "poster.png"):
        response = client.get(f"/t/{registration.ticket_token}/{what}")

        assert response.status_code == 404
        assert "was cancelled" in response.get_data(as_text=True)


def test_an_unknown_ticket_has_no_share_code(client):
    assert client.get("/t/not-a-real-ticket-token/share.png").status_code == 404
