"""The cover image: a real JPEG, PNG or WebP picture, within the size and pixel limits, stored
as a light re-encoded JPEG (upright, metadata gone) under its content hash, and served to
everyone with a long cache. Anything else is refused with a message that says what to do."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from eventapp.events import setup_views
from eventapp.events.models import Event
from eventapp.extensions import db

WEB_PAGE = ("This file is a web page or an SVG drawing, not a picture. Upload a JPEG, PNG or "
            "WebP image.")
NOT_AN_IMAGE = "This file is not an image. Upload a JPEG, PNG or WebP picture."
DAMAGED = ("The image is damaged or incomplete. Open it on your computer, save it again and "
           "upload the new file.")
TOO_MANY_PIXELS = ("The image has too many pixels (more than 40 million). Make it smaller, such "
                   "as 1600 px wide, and upload it again.")


def picture(fmt: str = "JPEG", size: tuple[int, int] = (1200, 675), mode: str = "RGB",
            color: tuple[int, ...] = (30, 90, 200), **save: object) -> bytes:
    image = Image.new(mode, size, color)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def noisy_jpeg(size: tuple[int, int]) -> bytes:
    """A photo-like JPEG that does not compress well (random pixels)."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def png_of(width: int, height: int, rows: int | None = None) -> bytes:
    """A 1-bit PNG of this size: tiny as a file, huge once decoded (with fewer `rows` of
    data than it claims, only its header is real)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(rows or height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
            + chunk(b"IEND", b""))


def upload(client, event, data: bytes, name: str = "cover.jpg"):
    return client.post_form(f"/events/{event.slug}/setup/cover",
                            {"image": (io.BytesIO(data), name)})


def covers(app) -> list[str]:
    folder = Path(app.config["EVENTAPP_INSTANCE_PATH"]) / "uploads" / "covers"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def cover_of(app, event) -> str | None:
    with app.app_context():
        return db.session.scalar(sa.select(Event.cover_image).where(Event.id == event.id))


def stored_image(app, name: str) -> Image.Image:
    path = Path(app.config["EVENTAPP_INSTANCE_PATH"]) / "uploads" / "covers" / name
    return Image.open(io.BytesIO(path.read_bytes()))


# --- good pictures ------------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "name"), [("JPEG", "photo.jpg"), ("PNG", "slide.png"),
                                           ("WEBP", "banner.webp")])
def test_a_picture_is_re_encoded_and_served_to_everyone(app, client, marketer_client, event,
                                                        fmt, name):
    response = upload(marketer_client, event, picture(fmt), name)

    assert response.status_code == 302
    assert response.headers["Location"] == f"/events/{event.slug}/setup#cover"
    stored = cover_of(app, event)
    assert stored is not None and stored.startswith(f"{event.id}-") and stored.endswith(".jpg")
    assert covers(app) == [stored]
    image = stored_image(app, stored)
    assert (image.format, image.size, image.mode) == ("JPEG", (1200, 675), "RGB")

    served = client.get(f"/events/{event.slug}/cover/{stored}")  # not signed in: an attendee
    assert served.status_code == 200
    assert served.mimetype == "image/jpeg"
    assert "max-age=31536000" in served.headers["Cache-Control"]
    assert "immutable" in served.headers["Cache-Control"]
    assert Image.open(io.BytesIO(served.data)).size == (1200, 675)
    page = marketer_client.get(f"/events/{event.slug}/setup").get_data(as_text=True)
    assert "The new cover image is saved." in page
    assert f'src="/events/{event.slug}/cover/{stored}"' in page


def test_a_large_picture_is_made_light_for_phones(app, marketer_client, event):
    upload(marketer_client, event, picture("PNG", (4000, 2000)), "huge.png")
    image = stored_image(app, cover_of(app, event))
    assert image.size == (1600, 800)


def test_the_camera_orientation_is_applied_and_metadata_removed(app, marketer_client, event):
    image = Image.new("RGB", (400, 200), (255, 0, 0))
    image.paste((0, 0, 255), (200, 0, 400, 200))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90° clockwise: the left edge becomes the top
    exif[0x010F] = "Canon"
    exif[0x8825] = {1: "N", 2: (31.0, 11.0, 12.0)}  # GPS: where the photo was taken
    buffer = io.BytesIO()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    image.save(buffer, format="JPEG", exif=exif.tobytes(), comment=b"taken at home", xmp=xmp,
               quality=95)
    assert {"exif", "comment", "xmp"} <= set(Image.open(buffer).info)

    upload(marketer_client, event, buffer.getvalue())

    stored = stored_image(app, cover_of(app, event))
    assert stored.size == (200, 400)
    top, bottom = stored.getpixel((100, 20)), stored.getpixel((100, 380))
    assert top[0] > 200 and top[2] < 60  # red on top
    assert bottom[2] > 200 and bottom[0] < 60  # blue at the bottom
    assert not stored.getexif()
    assert not {"exif", "comment", "xmp", "icc_profile"} & set(stored.info)
    assert b"Canon" not in Path(app.config["EVENTAPP_INSTANCE_PATH"], "uploads", "covers",
                                cover_of(app, event)).read_bytes()


def test_transparent_parts_become_white(app, marketer_client, event):
    upload(marketer_client, event, picture("PNG", (300, 200), "RGBA", (0, 0, 0, 0)), "logo.png")
    assert stored_image(app, cover_of(app, event)).getpixel((10, 10)) == (255, 255, 255)


def test_a_new_cover_replaces_the_old_file(app, client, marketer_client, event):
    upload(marketer_client, event, picture(color=(200, 0, 0)))
    first = cover_of(app, event)
    upload(marketer_client, event, picture(color=(0, 200, 0)))
    second = cover_of(app, event)

    assert first != second
    assert covers(app) == [second]
    assert client.get(f"/events/{event.slug}/cover/{first}").status_code == 404


def test_the_same_picture_twice_keeps_its_file(app, marketer_client, event):
    upload(marketer_client, event, picture())
    upload(marketer_client, event, picture())
    assert covers(app) == [cover_of(app, event)]


def test_the_cover_is_removed_with_its_file(app, client, marketer_client, event):
    upload(marketer_client, event, picture())
    name = cover_of(app, event)

    response = marketer_client.post_form(f"/events/{event.slug}/setup/cover/remove")

    assert response.status_code == 302
    assert cover_of(app, event) is None
    assert covers(app) == []
    assert client.get(f"/events/{event.slug}/cover/{name}").status_code == 404
    page = marketer_client.get(f"/events/{event.slug}/setup").get_data(as_text=True)
    assert "The cover image is removed." in page
    assert "No cover image yet." in page


def test_only_the_events_current_cover_is_served(app, make, client, marketer_client, event):
    upload(marketer_client, event, picture())
    name = cover_of(app, event)
    other = make.event()

    assert client.get(f"/events/{other.slug}/cover/{name}").status_code == 404
    for guess in ("secret_key", "..%2Fsecret_key", f"{event.id}-0000000000000000.jpg",
                  name.replace(".jpg", ".png")):
        assert client.get(f"/events/{event.slug}/cover/{guess}").status_code == 404, guess


def test_the_picture_is_handled_before_the_first_database_query(app, marketer_client, event,
                                                                monkeypatch):
    """A POST holds SQLite's write lock from its first query to its commit: the slow image
    work must come first."""
    queries: list[str] = []
    seen_when_preparing: list[int] = []
    original = setup_views.prepare_cover

    def watched(*args, **kwargs):
        seen_when_preparing.append(len(queries))
        return original(*args, **kwargs)

    monkeypatch.setattr(setup_views, "prepare_cover", watched)
    with app.app_context():
        engine = db.engine
    token = marketer_client.csrf_token()
    record = lambda *args: queries.append(args[2])  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        response = marketer_client.post(f"/events/{event.slug}/setup/cover", data={
            "csrf_token": token, "image": (io.BytesIO(picture()), "cover.jpg")})
        assert response.status_code == 302
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert seen_when_preparing == [0]
    assert queries  # the access check and the save came after


# --- refused files ------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "name", "message"), [
    (b"<!doctype html><html><script>alert(1)</script></html>", "cover.png", WEB_PAGE),
    (b"\n  <html><body>hello</body></html>", "cover.jpg", WEB_PAGE),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "c.png", WEB_PAGE),
    (os.urandom(4000), "cover.jpg", NOT_AN_IMAGE),
    (b"%PDF-1.7 not a picture", "cover.jpg", NOT_AN_IMAGE),
    (picture("GIF"), "cover.gif", "GIF images are not accepted. Save the picture as JPEG, PNG "
                                  "or WebP and upload it again."),
    (picture("BMP"), "cover.png", "BMP images are not accepted. Save the picture as JPEG, PNG "
                                  "or WebP and upload it again."),
    (b"", "cover.jpg", "The file is empty. Choose a JPEG, PNG or WebP image."),
])
def test_a_file_that_is_not_an_accepted_picture_is_refused(app, marketer_client, event,
                                                           field_errors, data, name, message):
    response = upload(marketer_client, event, data, name)

    assert response.status_code == 200
    assert field_errors(response, "image") == [message]
    assert cover_of(app, event) is None
    assert covers(app) == []


def test_a_cut_off_jpeg_is_refused(app, marketer_client, event, field_errors):
    whole = noisy_jpeg((600, 400))
    response = upload(marketer_client, event, whole[: len(whole) * 2 // 3])
    assert field_errors(response, "image") == [DAMAGED]
    assert cover_of(app, event) is None


def test_a_cut_off_jpeg_is_still_refused_after_a_badge_was_drawn(app, marketer_client, event,
                                                                 field_errors):
    """WeasyPrint's import tells Pillow to accept cut-off images, for the whole process."""
    from eventapp.checkin.badges import _weasyprint

    _weasyprint()
    whole = noisy_jpeg((600, 400))
    response = upload(marketer_client, event, whole[: len(whole) * 2 // 3])
    assert field_errors(response, "image") == [DAMAGED]


def test_a_png_with_damaged_data_is_refused(app, marketer_client, event, field_errors):
    data = bytearray(picture("PNG", (300, 200)))
    start = data.index(b"IDAT") + 8
    data[start:start + 8] = b"\xff" * 8  # the checksum no longer matches
    response = upload(marketer_client, event, bytes(data), "cover.png")
    assert field_errors(response, "image") == [DAMAGED]


@pytest.mark.parametrize("size", [(7000, 7000), (30000, 30000)])
def test_a_decompression_bomb_is_refused_before_decoding(app, marketer_client, event,
                                                         field_errors, size):
    """49 million pixels: over our limit; 900 million: over Pillow's own bomb guard too."""
    bomb = png_of(*size) if size[0] < 10000 else png_of(*size, rows=10)
    assert len(bomb) < 100_000
    response = upload(marketer_client, event, bomb, "cover.png")
    assert field_errors(response, "image") == [TOO_MANY_PIXELS]
    assert cover_of(app, event) is None


def test_a_picture_over_the_cover_limit_is_refused(app, marketer_client, event, field_errors):
    app.config["COVER_MAX_MB"] = 100 * 1024
    data = noisy_jpeg((400, 400))
    assert len(data) > 100 * 1024

    response = upload(marketer_client, event, data)

    assert response.status_code == 200
    assert field_errors(response, "image") == [
        "The image is larger than 0.0977 MB. Save it smaller (1600 px wide is plenty) and "
        "upload it again."]
    assert cover_of(app, event) is None


def test_an_upload_over_the_sites_limit_is_explained_on_the_set_up_page(app, marketer_client,
                                                                        event):
    app.config["MAX_CONTENT_LENGTH"] = 50 * 1024

    response = upload(marketer_client, event, noisy_jpeg((400, 400)))

    assert response.status_code == 303
    assert response.headers["Location"] == f"/events/{event.slug}/setup#cover"
    page = marketer_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The image is larger than 5 MB." in page
    assert cover_of(app, event) is None


def test_sending_no_file_asks_for_one(app, marketer_client, event, field_errors):
    response = marketer_client.post_form(f"/events/{event.slug}/setup/cover", {})
    assert response.status_code == 200
    assert field_errors(response, "image") == ["Choose an image file first."]


# --- who may upload -----------------------------------------------------------------------

@pytest.mark.parametrize("role", ["staff", "sales", "outsider"])
def test_only_marketers_upload_or_remove_the_cover(app, request, marketer_client, event, role):
    upload(marketer_client, event, picture(color=(1, 2, 3)))
    kept = cover_of(app, event)
    client = request.getfixturevalue(f"{role}_client")

    assert upload(client, event, picture(color=(9, 9, 9))).status_code == 403
    assert client.post_form(f"/events/{event.slug}/setup/cover/remove").status_code == 403
    assert cover_of(app, event) == kept
    assert covers(app) == [kept]


def test_without_a_session_nothing_is_uploaded(app, client, event):
    response = upload(client, event, picture())
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert covers(app) == []
