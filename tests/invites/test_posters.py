"""Countdown posters: the picture (size, a QR code a real decoder reads, Chinese drawn in a real
CJK font), the countdown in the event's timezone, the daily cache and the nightly Celery run."""

from __future__ import annotations

import subprocess
from datetime import date, datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path

import pytest
from flask_babel import force_locale
from PIL import Image, ImageChops, ImageDraw

from eventapp.events.models import Event, EventStatus
from eventapp.extensions import db
from eventapp.invites import poster_text, posters
from eventapp.invites.poster_text import (Phase, PosterFontMissing, countdown, event_today,
                                          poster_date, poster_fonts, wrap_text)
from eventapp.invites.posters import EventFacts, regenerate_posters, render_poster

PUBLIC_URL = "https://events.example.cn"
# Thursday 3 December 2026, 09:00 in Shanghai (UTC+8), until 17:00.
STARTS = datetime(2026, 12, 3, 1, 0, tzinfo=timezone.utc)


def zbar(image: bytes, tmp_path: Path) -> list[str]:
    """What zbar reads in a PNG: one payload per code found."""
    path = tmp_path / "scan.png"
    path.write_bytes(image)
    found = subprocess.run(["zbarimg", "--raw", "-q", str(path)], capture_output=True,
                           text=True, timeout=60)
    return found.stdout.splitlines()


def facts(*, title: str = "2026 智能制造博览会 Smart Manufacturing Expo", days: int = 1,
          zone: str = "Asia/Shanghai", starts: datetime = STARTS, cover: str | None = None,
          event_id: int = 1) -> EventFacts:
    return EventFacts(id=event_id, slug="smart-expo", title=title, starts_at=starts,
                      ends_at=starts + timedelta(days=days - 1, hours=8), timezone=zone,
                      venue="上海世博中心 B2", address="世博大道 1500 号", cover_image=cover)


@pytest.fixture
def public_url(app):
    app.config["PUBLIC_URL"] = PUBLIC_URL
    return PUBLIC_URL


@pytest.fixture
def channel(make, event):
    return make.channel(event, name="Partner newsletter", kind="partner", code="partner-x")


def poster_files(app, event_id: int) -> list[str]:
    folder = Path(app.instance_path) / "posters" / str(event_id)
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


# --- the countdown, in the event's timezone ---------------------------------------------------

@pytest.mark.parametrize("now, phase, days", [
    ("2026-12-01T15:59:00+00:00", Phase.UPCOMING, 2),  # 23:59 on 1 Dec in Shanghai
    ("2026-12-01T16:00:00+00:00", Phase.UPCOMING, 1),  # 00:00 on 2 Dec: one day less
    ("2026-12-02T15:59:59+00:00", Phase.UPCOMING, 1),
    ("2026-12-02T16:00:00+00:00", Phase.TODAY, 0),  # midnight of the day, still 1 Dec in UTC
    ("2026-12-03T15:59:00+00:00", Phase.TODAY, 0),  # the evening after it started
    ("2026-12-03T16:00:00+00:00", Phase.ENDED, 0),
])
def test_countdown_turns_at_midnight_in_the_events_timezone(now, phase, days):
    event = facts()

    state = countdown(event, event_today(event, datetime.fromisoformat(now)))

    assert (state.phase, state.days) == (phase, days)


def test_countdown_west_of_utc_uses_the_local_date():
    # 09:00 on 3 Dec in Los Angeles is 17:00 UTC; at 03:00 UTC on 3 Dec it is still 2 Dec there.
    event = facts(zone="America/Los_Angeles", starts=datetime(2026, 12, 3, 17, tzinfo=timezone.utc))

    state = countdown(event, event_today(event, datetime(2026, 12, 3, 3, tzinfo=timezone.utc)))

    assert (state.phase, state.days) == (Phase.UPCOMING, 1)


def test_a_multi_day_event_is_underway_after_its_first_day():
    event = facts(days=3)

    assert countdown(event, date(2026, 12, 4)).phase is Phase.UNDERWAY
    assert countdown(event, date(2026, 12, 5)).phase is Phase.UNDERWAY
    assert countdown(event, date(2026, 12, 6)).phase is Phase.ENDED


@pytest.mark.single_db
def test_countdown_texts(app):
    event = facts()
    with app.app_context(), force_locale("en"):
        texts = [countdown(event, day).text() for day in
                 (date(2026, 11, 20), date(2026, 12, 2), date(2026, 12, 3), date(2026, 12, 9))]

    assert texts == ["13 days to go", "1 day to go", "Happening today", "This event has ended"]


@pytest.mark.single_db
def test_the_date_line_is_local_time_in_each_language(app):
    with app.app_context():
        assert poster_date(facts(), "zh_CN") == "2026年12月3日 周四 09:00"
        assert poster_date(facts(), "en") == "Thu 3 Dec 2026, 09:00"


# --- the font and line breaking ---------------------------------------------------------------

def glyph(font, text: str) -> Image.Image:
    image = Image.new("L", (200, 200), 0)
    ImageDraw.Draw(image).text((20, 20), text, font=font, fill=255)
    return image


@pytest.mark.single_db
def test_posters_draw_chinese_in_a_cjk_font_without_tofu(app):
    with app.app_context():
        fonts = poster_fonts()
    for face in (fonts.regular, fonts.bold):
        font = face.at(120)
        family, _style = font.getname()
        assert "CJK" in family and "SC" in family.split()
        missing = glyph(font, "\U000F0001")  # a private-use code point: the .notdef box
        assert missing.getbbox() and not ImageChops.difference(
            missing, glyph(font, "\U000F0002")).getbbox()  # every missing glyph looks alike
        for character in "智能制造博览会还有天扫码报名":
            drawn = glyph(font, character)
            assert drawn.getbbox(), character
            assert ImageChops.difference(drawn, missing).getbbox(), f"{character} is tofu"


@pytest.mark.single_db
def test_poster_font_setting_overrides_the_system_font(app):
    path = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
    if not Path(path).is_file():
        pytest.skip("fonts-noto-cjk is not installed where Debian puts it")
    app.config["POSTER_FONT"] = path
    with app.app_context():
        fonts = poster_fonts()

    assert fonts.regular.path == fonts.bold.path == path
    assert fonts.bold.at(40).getname()[0] == "Noto Sans CJK SC"  # the Simplified Chinese face


@pytest.mark.single_db
def test_a_missing_font_is_a_clear_error(app, monkeypatch, tmp_path):
    app.config["POSTER_FONT"] = str(tmp_path / "gone.ttf")
    with app.app_context(), pytest.raises(PosterFontMissing, match="gone.ttf"):
        poster_fonts()

    app.config["POSTER_FONT"] = ""
    monkeypatch.setenv("PATH", str(tmp_path))  # no fc-match
    monkeypatch.setattr(poster_text, "KNOWN_FONT_FILES",
                        {"Regular": (str(tmp_path / "a.ttc"),), "Bold": (str(tmp_path / "b.ttc"),)})
    poster_text._find_fonts.cache_clear()
    try:
        with app.app_context(), pytest.raises(PosterFontMissing, match="fonts-noto-cjk"):
            poster_fonts()
    finally:
        poster_text._find_fonts.cache_clear()


@pytest.mark.single_db
def test_lines_break_between_chinese_characters_and_between_english_words(app):
    with app.app_context():
        font = poster_fonts().bold.at(60)
    five = font.getlength("智能制造博")

    assert wrap_text("智能制造博览会开幕", font, five) == ["智能制造博", "览会开幕"]
    assert wrap_text("智能制造博，览会", font, five) == ["智能制造博，", "览会"]  # never "，" first
    words = font.getlength("Smart Manufacturing")
    assert wrap_text("Smart Manufacturing Expo 2026", font, words) == \
        ["Smart Manufacturing", "Expo 2026"]
    assert wrap_text("2026 智能制造 Expo", font, font.getlength("2026 智能制")) == \
        ["2026 智能制", "造 Expo"]


# --- the picture --------------------------------------------------------------------------------

def qr_side(png: bytes) -> int:
    """Width of the QR symbol: the only pure black on a poster is the code's modules."""
    black = Image.open(BytesIO(png)).convert("L").point(lambda value: 255 if value == 0 else 0)
    box = black.getbbox()
    assert box is not None
    return box[2] - box[0]


@pytest.mark.single_db
@pytest.mark.parametrize("title", ["智能制造博览会", "A very long title of an event that goes on "
                                   "and on, far beyond what three lines of a poster can hold"])
def test_poster_is_a_1080_by_1920_png_with_a_large_decodable_code(app, title, tmp_path):
    link = f"{PUBLIC_URL}/e/smart-expo?c=partner-x"
    with app.app_context(), force_locale("zh_CN"):
        png = render_poster(facts(title=title), link=link, inviter=None, today=date(2026, 11, 20))

    image = Image.open(BytesIO(png))
    assert (image.format, image.size) == ("PNG", (1080, 1920))
    assert zbar(png, tmp_path) == [link]
    assert qr_side(png) >= 420


@pytest.mark.single_db
def test_poster_shows_the_cover_image(app, tmp_path):
    covers = Path(app.config["EVENTAPP_INSTANCE_PATH"]) / "uploads" / "covers"
    covers.mkdir(parents=True)
    Image.new("RGB", (1200, 630), (200, 40, 40)).save(covers / "1-0123456789abcdef.jpg")
    link = f"{PUBLIC_URL}/e/smart-expo"
    with app.app_context():
        plain = render_poster(facts(), link=link, inviter=None, today=date(2026, 11, 20))
        covered = render_poster(facts(cover="1-0123456789abcdef.jpg"), link=link, inviter=None,
                                today=date(2026, 11, 20))

    red, green, blue = Image.open(BytesIO(covered)).convert("RGB").getpixel((540, 100))
    assert red > 150 and green < 90 and blue < 90  # the cover fills the top
    assert Image.open(BytesIO(plain)).convert("RGB").getpixel((540, 100))[2] > 40  # blue sky
    assert zbar(covered, tmp_path) == [link]


@pytest.mark.single_db
def test_inviters_line_is_drawn_above_the_title(app):
    link = f"{PUBLIC_URL}/e/smart-expo?r=abcdefghjk"
    with app.app_context():
        alone = render_poster(facts(), link=link, inviter=None, today=date(2026, 11, 20))
        invited = render_poster(facts(), link=link, inviter="王小明", today=date(2026, 11, 20))

    changed = ImageChops.difference(Image.open(BytesIO(alone)).convert("RGB"),
                                    Image.open(BytesIO(invited)).convert("RGB")).getbbox()
    assert changed is not None and changed[1] < 600  # the header moved to make room


# --- downloads and the cache ------------------------------------------------------------------

def test_channel_poster_download_decodes_to_the_channel_link(app, marketer_client, event,
                                                            channel, public_url, tmp_path):
    response = marketer_client.get(f"/events/{event.slug}/channels/{channel.id}/poster.png")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == \
        f"attachment; filename={event.slug}-partner-x-poster.png"
    assert Image.open(BytesIO(response.data)).size == (1080, 1920)
    assert zbar(response.data, tmp_path) == [f"{PUBLIC_URL}/e/{event.slug}?c=partner-x"]
    today = event_today(event).isoformat()
    assert poster_files(app, event.id) == [f"partner-x-en-{today}.png"]


def test_direct_poster_decodes_to_the_plain_link(marketer_client, event, public_url, tmp_path):
    response = marketer_client.get(f"/events/{event.slug}/poster.png")

    assert response.status_code == 200
    assert zbar(response.data, tmp_path) == [f"{PUBLIC_URL}/e/{event.slug}"]


def test_attendees_poster_carries_their_referral_link(app, client, make, event, public_url,
                                                     tmp_path):
    registration = make.registration(event, make.contact(name="王小明"))

    response = client.get(f"/t/{registration.ticket_token}/poster.png")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("inline")
    assert "private" in response.headers["Cache-Control"]
    assert zbar(response.data, tmp_path) == \
        [f"{PUBLIC_URL}/e/{event.slug}?r={registration.share_code}"]
    today = event_today(event).isoformat()
    assert poster_files(app, event.id) == [f"r-{registration.share_code}-en-{today}.png"]


def test_posters_are_drawn_with_no_database_transaction_open(app, marketer_client, client,
                                                             make, event, channel, monkeypatch):
    open_transactions: list[bool] = []
    draw = posters.render_poster

    def watched(*args, **kwargs):
        open_transactions.append(db.session().in_transaction())
        return draw(*args, **kwargs)

    monkeypatch.setattr(posters, "render_poster", watched)
    registration = make.registration(event)
    marketer_client.get(f"/events/{event.slug}/channels/{channel.id}/poster.png")
    client.get(f"/t/{registration.ticket_token}/poster.png")
    with app.app_context():
        regenerate_posters(date.today())

    assert open_transactions and not any(open_transactions)


def test_a_cached_poster_is_served_again_without_drawing(app, marketer_client, event, channel,
                                                        monkeypatch):
    url = f"/events/{event.slug}/channels/{channel.id}/poster.png"
    first = marketer_client.get(url).data

    def no_drawing(*_args, **_kwargs):
        raise AssertionError("drawn again")

    monkeypatch.setattr(posters, "render_poster", no_drawing)
    assert marketer_client.get(url).data == first


def test_an_edited_event_gets_a_new_poster_the_same_day(app, marketer_client, event, channel):
    url = f"/events/{event.slug}/channels/{channel.id}/poster.png"
    before = marketer_client.get(url).data
    with app.app_context():
        db.session.get(Event, event.id).title = "新的标题 New title"
        db.session.commit()

    after = marketer_client.get(url).data

    assert after != before
    assert len(poster_files(app, event.id)) == 1


def test_a_new_day_replaces_the_older_poster(app, marketer_client, event, channel):
    folder = Path(app.instance_path) / "posters" / str(event.id)
    folder.mkdir(parents=True)
    for name in ("partner-x-en-2000-01-01.png", "partner-x-zh_CN-2000-01-01.png",
                 "direct-en-2000-01-01.png"):
        (folder / name).write_bytes(b"old")

    marketer_client.get(f"/events/{event.slug}/channels/{channel.id}/poster.png")

    today = event_today(event).isoformat()
    assert poster_files(app, event.id) == ["direct-en-2000-01-01.png",
                                           f"partner-x-en-{today}.png",
                                           "partner-x-zh_CN-2000-01-01.png"]


# --- the nightly run ----------------------------------------------------------------------------

def test_regenerate_draws_todays_posters_and_removes_stale_ones(app, make, event, channel):
    make.channel(event, code="mail-1", kind="email")
    draft = make.event(status=EventStatus.DRAFT)
    over = make.event(starts_at=datetime.now(timezone.utc) - timedelta(days=3))
    today = event_today(event)
    root = Path(app.instance_path) / "posters"
    stale = {event.id: [f"direct-en-{today - timedelta(days=1)}.png",
                        f"r-abcdefghjk-zh_CN-{today - timedelta(days=1)}.png"],
             draft.id: [f"direct-en-{today}.png"], over.id: [f"direct-en-{today}.png"]}
    for event_id, names in stale.items():
        (root / str(event_id)).mkdir(parents=True)
        for name in names:
            (root / str(event_id) / name).write_bytes(b"old")
    (root / str(event.id) / f"r-abcdefghjk-en-{today}.png").write_bytes(b"an attendee's")

    with app.app_context():
        run = regenerate_posters(today)

    expected = sorted(f"{key}-{locale}-{today}.png" for key in ("direct", "partner-x", "mail-1")
                      for locale in ("en", "zh_CN")) + [f"r-abcdefghjk-en-{today}.png"]
    assert sorted(poster_files(app, event.id)) == sorted(expected)
    assert not (root / str(draft.id)).exists() and not (root / str(over.id)).exists()
    assert (run.posters, run.drawn, run.removed) == (6, 6, 4)
    with app.app_context():
        again = regenerate_posters(today)
    assert (again.posters, again.drawn, again.removed) == (6, 0, 0)


def test_the_nightly_task_runs_through_celery(app, make, event, channel, tmp_path):
    from eventapp.invites import tasks

    celery = app.extensions["celery"]
    assert celery.tasks["eventapp.invites.regenerate_posters"].name == \
        "eventapp.invites.regenerate_posters"
    assert celery.conf.task_always_eager  # no broker in these tests: inline, as configured
    today = event_today(event)

    with app.app_context():
        result = tasks.regenerate_posters.delay(today.isoformat()).get()

    assert result == {"posters": 4, "drawn": 4, "removed": 0}
    poster = Path(app.instance_path) / "posters" / str(event.id) / f"partner-x-zh_CN-{today}.png"
    assert zbar(poster.read_bytes(), tmp_path) == \
        [f"{app.config['PUBLIC_URL']}/e/{event.slug}?c=partner-x"]

