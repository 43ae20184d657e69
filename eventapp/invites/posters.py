"""Countdown posters: a 1080×1920 PNG to print or share, one per channel, one for the direct
link and one per attendee who shares their personal link, drawn with Pillow in a CJK font.

A poster changes once a day (its countdown), so each is cached as
<instance>/posters/<event id>/<channel code | direct | r-<share code>>-<locale>-<YYYY-MM-DD>.png
and served from there until the event's midnight. The file carries a fingerprint of what it
shows, so the poster of an event edited since is drawn again. Celery beat draws the posters of
upcoming events every night (`regenerate_posters`) and removes older days' files.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from PIL import Image, ImageDraw, ImageFilter, ImageOps
from PIL.ImageFont import FreeTypeFont
from PIL.PngImagePlugin import PngInfo

from eventapp.core.i18n import LOCALES, current_locale_code
from eventapp.core.time import utcnow
from eventapp.events.models import Event, EventStatus
from eventapp.events.setup import covers_folder
from eventapp.extensions import db
from eventapp.invites.links import invitation_url
from eventapp.invites.poster_text import (Countdown, Phase, PosterEvent, PosterFonts, countdown,
                                          ellipsize, event_today, poster_date, poster_fonts,
                                          wrap_lines, wrap_text)
from eventapp.invites.qrcodes import qr_png

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 1080, 1920
MARGIN = 90
TEXT_WIDTH = WIDTH - 2 * MARGIN
#: The cover image fills the top and fades into the background over its last COVER_FADE px.
COVER_HEIGHT, COVER_FADE = 520, 220
#: Side of the QR code's modules (without its quiet zone): at least QR_MIN px, so that a phone
#: reads it from a printed poster across a booth, or from a screenshot.
QR_MIN, QR_TARGET = 420, 450
TITLE_SIZES = (96, 84, 72, 64, 56)
COUNTDOWN_HEIGHT, GAP = 170, 28
#: Change whenever the drawing changes: cached posters are then drawn again.
DESIGN_VERSION = "1"
STAMP_KEYWORD = "eventapp-poster"
KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")
_FILE_NAME = re.compile(r"(?P<key>[a-z0-9][a-z0-9-]*)-(?P<locale>zh_CN|en)-"
                        r"(?P<day>\d{4}-\d{2}-\d{2})\.png")
_DRAFT_PREFIX = ".draft-"

NAVY, BLUE, GLOW = (9, 20, 61), (28, 78, 216), (96, 146, 255)
WHITE, SOFT, MUTED = (255, 255, 255), (214, 224, 255), (166, 184, 232)
ACCENT, INK = (255, 210, 77), (23, 32, 51)


@dataclass(frozen=True)
class EventFacts:
    """An event's poster facts, detached from the database session (drawing takes a while,
    and no transaction should stay open meanwhile)."""

    id: int
    slug: str
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    venue: str
    address: str
    cover_image: str | None

    @classmethod
    def of(cls, event: PosterEvent) -> EventFacts:
        return cls(id=event.id, slug=event.slug, title=event.title, starts_at=event.starts_at,
                   ends_at=event.ends_at, timezone=event.timezone, venue=event.venue or "",
                   address=event.address or "", cover_image=event.cover_image)


# --- drawing --------------------------------------------------------------------------------

def render_poster(event: PosterEvent, *, link: str, inviter: str | None, today: date) -> bytes:
    """The poster as a 1080×1920 PNG in the current language: the cover (or a gradient),
    title, date and venue, the countdown on `today` (a date in the event's timezone) and the
    QR code of `link`, with "<inviter> invites you" when an attendee shares it."""
    fonts = poster_fonts()
    locale = current_locale_code()
    canvas, has_cover = _background(event)
    draw = ImageDraw.Draw(canvas)
    card_top = _draw_qr_card(canvas, draw, fonts, link)
    space_top = COVER_HEIGHT - 40 if has_cover else 150
    limit = card_top - COUNTDOWN_HEIGHT - 2 * GAP
    lines = _fit_header(event, inviter, locale, fonts, limit - space_top)
    header_height = sum(line.gap + line.height for line in lines)
    top = space_top if has_cover else space_top + max(0, limit - space_top - header_height) // 3
    header_bottom = _draw_lines(draw, lines, top)
    _draw_countdown(draw, fonts, countdown(event, today), (header_bottom + card_top) // 2)
    stamp = poster_stamp(event, link=link, inviter=inviter, today=today, locale=locale)
    return _png(canvas, stamp)


def _background(event: PosterEvent) -> tuple[Image.Image, bool]:
    """A deep blue gradient with two soft lights; the cover image on top, fading into it."""
    size = (WIDTH, HEIGHT)
    ramp = Image.linear_gradient("L").resize(size)
    canvas = Image.composite(Image.new("RGB", size, BLUE), Image.new("RGB", size, NAVY), ramp)
    lights = Image.new("L", (WIDTH // 8, HEIGHT // 8), 0)
    shapes = ImageDraw.Draw(lights)
    shapes.ellipse((70, -40, 180, 70), fill=60)
    shapes.ellipse((-50, 150, 50, 250), fill=45)
    lights = lights.filter(ImageFilter.GaussianBlur(12)).resize(size, Image.Resampling.BICUBIC)
    canvas.paste(Image.new("RGB", size, GLOW), (0, 0), lights)
    cover = _cover(event)
    if cover is not None:
        fade = Image.new("L", (WIDTH, COVER_HEIGHT), 255)
        fade.paste(ImageOps.invert(Image.linear_gradient("L")).resize((WIDTH, COVER_FADE)),
                   (0, COVER_HEIGHT - COVER_FADE))
        canvas.paste(cover, (0, 0), fade)
    return canvas, cover is not None


def _cover(event: PosterEvent) -> Image.Image | None:
    """The event's cover cut to the poster's top, or None (none set, or it cannot be read)."""
    if not event.cover_image:
        return None
    path = covers_folder() / Path(event.cover_image).name
    try:
        with Image.open(path) as image:
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        log.warning("cover %s of event %s left off its poster: %s", path, event.id, error)
        return None
    return ImageOps.fit(upright, (WIDTH, COVER_HEIGHT), Image.Resampling.LANCZOS,
                        centering=(0.5, 0.4))


@dataclass(frozen=True)
class _Line:
    text: str
    font: FreeTypeFont
    fill: tuple[int, int, int]
    height: int
    gap: int = 0  # space above the line


def _header_lines(event: PosterEvent, inviter: str | None, locale: str, fonts: PosterFonts,
                  title_size: int, title_lines: int, address: bool) -> list[_Line]:
    lines: list[_Line] = []
    if inviter:
        font = fonts.regular.at(42)
        text = ellipsize(_("%(name)s invites you", name=inviter), font, TEXT_WIDTH)
        lines.append(_Line(text, font, ACCENT, 62))
    title = fonts.bold.at(title_size)
    for number, text in enumerate(wrap_lines(event.title, title, TEXT_WIDTH, title_lines)):
        lines.append(_Line(text, title, WHITE, round(title_size * 1.24),
                           gap=10 if number == 0 and inviter else 0))
    font = fonts.regular.at(42)
    lines.append(_Line(poster_date(event, locale), font, SOFT, 60, gap=26))
    if event.venue:
        font = fonts.regular.at(40)
        lines.append(_Line(ellipsize(event.venue, font, TEXT_WIDTH), font, SOFT, 58, gap=4))
    if event.address and address:
        font = fonts.regular.at(32)
        lines.append(_Line(ellipsize(event.address, font, TEXT_WIDTH), font, MUTED, 46))
    return lines


def _fit_header(event: PosterEvent, inviter: str | None, locale: str, fonts: PosterFonts,
                room: int) -> list[_Line]:
    """The header lines with the largest title that leaves room for the rest; a long title
    on a crowded poster loses the address line, then title lines (ending in an ellipsis)."""
    smallest = TITLE_SIZES[-1]
    tries = [(size, 3, True) for size in TITLE_SIZES] + [(smallest, n, False) for n in (3, 2, 1)]
    lines: list[_Line] = []
    for size, title_lines, address in tries:
        whole = len(wrap_text(event.title, fonts.bold.at(size), TEXT_WIDTH)) <= title_lines
        lines = _header_lines(event, inviter, locale, fonts, size, title_lines, address)
        if (whole or size == smallest) and sum(line.gap + line.height for line in lines) <= room:
            break
    return lines


def _draw_lines(draw: ImageDraw.ImageDraw, lines: list[_Line], top: int) -> int:
    y = top
    for line in lines:
        y += line.gap
        draw.text((WIDTH // 2, y + line.height // 2), line.text, font=line.font, fill=line.fill,
                  anchor="mm")
        y += line.height
    return y


def _draw_countdown(draw: ImageDraw.ImageDraw, fonts: PosterFonts, state: Countdown,
                    middle: int) -> None:
    """The countdown, centred on `middle`: the number of days big and in the accent colour."""
    if state.phase is not Phase.UPCOMING:
        size = 120
        while size > 48 and fonts.bold.at(size).getlength(state.text()) > TEXT_WIDTH:
            size -= 8
        draw.text((WIDTH // 2, middle), state.text(), font=fonts.bold.at(size), fill=ACCENT,
                  anchor="mm")
        return
    before, _marker, after = state.text(number="\x00").partition("\x00")
    number, words = str(state.days), fonts.bold.at(60)
    size = 210
    while size > 80 and (words.getlength(before) + words.getlength(after)
                         + fonts.bold.at(size).getlength(number)) > TEXT_WIDTH:
        size -= 10
    big = fonts.bold.at(size)
    baseline = middle - big.getbbox(number, anchor="ls")[1] // 2
    x = (WIDTH - words.getlength(before) - big.getlength(number) - words.getlength(after)) / 2
    for text, font, fill in ((before, words, WHITE), (number, big, ACCENT), (after, words, WHITE)):
        draw.text((x, baseline), text, font=font, fill=fill, anchor="ls")
        x += font.getlength(text)


def _qr_image(link: str) -> Image.Image:
    """The QR code of `link`, scaled by a whole number (sharp edges) to a symbol of about
    QR_TARGET px, never under QR_MIN; with its white quiet zone of 4 modules."""
    with Image.open(io.BytesIO(qr_png(link, box_size=1))) as image:
        code = image.convert("RGB")
    modules = code.width - 8
    scale = max(QR_TARGET // modules, -(-QR_MIN // modules))
    return code.resize((code.width * scale, code.height * scale), Image.Resampling.NEAREST)


def _draw_qr_card(canvas: Image.Image, draw: ImageDraw.ImageDraw, fonts: PosterFonts,
                  link: str) -> int:
    """A white card at the bottom: the QR code and "Scan to book"; the link under it, for
    whoever types it. Returns the card's top."""
    code = _qr_image(link)
    width, height = max(code.width + 40, 600), code.height + 100
    bottom = HEIGHT - 104
    top, left = bottom - height, (WIDTH - width) // 2
    draw.rounded_rectangle((left, top, left + width, bottom), radius=36, fill=WHITE)
    canvas.paste(code, ((WIDTH - code.width) // 2, top + 10))
    draw.text((WIDTH // 2, top + 10 + code.height + 36), _("Scan to book"),
              font=fonts.bold.at(46), fill=INK, anchor="mm")
    font = fonts.regular.at(30)
    shown = ellipsize(re.sub(r"^https?://", "", link), font, TEXT_WIDTH)
    draw.text((WIDTH // 2, HEIGHT - 52), shown, font=font, fill=SOFT, anchor="mm")
    return top


def poster_stamp(event: PosterEvent, *, link: str, inviter: str | None, today: date,
                 locale: str) -> str:
    """A fingerprint of everything a poster shows: a cached poster is used only if its
    fingerprint is the one wanted now."""
    facts = (DESIGN_VERSION, locale, today.isoformat(), link, inviter or "", event.title,
             event.starts_at.isoformat(), event.ends_at.isoformat(), event.timezone,
             event.venue or "", event.address or "", event.cover_image or "",
             repr(poster_fonts()))
    return hashlib.sha256("\x1f".join(facts).encode()).hexdigest()[:32]


def _png(canvas: Image.Image, stamp: str) -> bytes:
    info = PngInfo()
    info.add_text(STAMP_KEYWORD, stamp)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


# --- the cache --------------------------------------------------------------------------------

def poster_path(event_id: int, key: str, locale: str, today: date) -> Path:
    """Where the poster `key` (a channel code, "direct" or "r-<share code>") of that day and
    language is cached."""
    if not KEY_PATTERN.fullmatch(key) or locale not in LOCALES:
        raise ValueError(f"not a poster key and language: {key!r}, {locale!r}")
    root = Path(current_app.instance_path) / "posters"
    return root / str(event_id) / f"{key}-{locale}-{today.isoformat()}.png"


def poster_png(event: PosterEvent, *, key: str, link: str, inviter: str | None,
               today: date) -> bytes:
    """Today's poster `key` in the current language: from the cache when it shows exactly
    this, else drawn and cached (the key's older days are removed). Reads no database: call
    it once the request's reading is done."""
    return _cached_or_drawn(event, key=key, link=link, inviter=inviter, today=today)[0]


def _cached_or_drawn(event: PosterEvent, *, key: str, link: str, inviter: str | None,
                     today: date) -> tuple[bytes, bool]:
    locale = current_locale_code()
    path = poster_path(event.id, key, locale, today)
    stamp = poster_stamp(event, link=link, inviter=inviter, today=today, locale=locale)
    cached = _read_cached(path, stamp)
    if cached is not None:
        return cached, False
    data = render_poster(event, link=link, inviter=inviter, today=today)
    _store(path, data)
    return data, True


def _read_cached(path: Path, stamp: str) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    # Pillow writes text chunks before the image data: the fingerprint is near the start.
    marker = STAMP_KEYWORD.encode() + b"\0" + stamp.encode()
    return data if marker in data[:4096] else None


def _store(path: Path, data: bytes) -> None:
    """Write the poster atomically (another worker may be reading it) and delete the older
    days of the same key and language. A cache that cannot be written is only logged."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, draft = tempfile.mkstemp(dir=path.parent, prefix=_DRAFT_PREFIX, suffix=".png")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(draft, path)
        finally:
            Path(draft).unlink(missing_ok=True)
    except OSError as error:
        log.warning("poster not cached at %s: %s", path, error)
        return
    name = _FILE_NAME.fullmatch(path.name)
    assert name is not None
    for other in path.parent.iterdir():
        match = _FILE_NAME.fullmatch(other.name)
        if (match and other.name != path.name and match["key"] == name["key"]
                and match["locale"] == name["locale"]):
            other.unlink(missing_ok=True)


# --- the nightly run ------------------------------------------------------------------------

@dataclass
class PosterRun:
    """What `regenerate_posters` did: posters made ready, of which drawn, files removed."""

    posters: int = 0
    drawn: int = 0
    removed: int = 0


def regenerate_posters(today: date | None = None) -> PosterRun:
    """Make today's posters ready, in every language, for every published event that has not
    ended: each channel's and the direct link's (drawn unless already cached), and delete
    poster files of other days or of other events. `today` defaults to each event's own date.
    Only reads the database, and ends its transaction before drawing (no lock is held)."""
    plans = _upcoming_posters()
    db.session.rollback()
    days = {facts.id: today or event_today(facts) for facts, _key, _link in plans}
    run = PosterRun(removed=remove_stale_posters(days))
    for facts, key, link in plans:
        for locale in LOCALES:
            with force_locale(locale):
                _data, drawn = _cached_or_drawn(facts, key=key, link=link, inviter=None,
                                                today=days[facts.id])
            run.posters += 1
            run.drawn += drawn
    return run


def _upcoming_posters() -> list[tuple[EventFacts, str, str]]:
    """(event, poster key, link) of the posters of every published event not yet over."""
    events = db.session.scalars(
        sa.select(Event).where(Event.status == EventStatus.PUBLISHED, Event.ends_at > utcnow())
        .options(sa.orm.selectinload(Event.channels)).order_by(Event.id))
    plans: list[tuple[EventFacts, str, str]] = []
    for event in events:
        facts = EventFacts.of(event)
        plans.append((facts, "direct", invitation_url(event)))
        plans.extend((facts, channel.code, invitation_url(event, channel_code=channel.code))
                     for channel in event.channels)
    return plans


def remove_stale_posters(current: dict[int, date]) -> int:
    """Delete the cached posters of other days than `current[event id]`, and all posters of
    events not in `current` (they are drawn again if asked for); returns how many."""
    root = Path(current_app.instance_path) / "posters"
    if not root.is_dir():
        return 0
    removed = 0
    for folder in root.iterdir():
        if not folder.is_dir() or not folder.name.isdigit():
            continue
        day = current.get(int(folder.name))
        for file in folder.iterdir():
            if _is_stale(file, day):
                file.unlink(missing_ok=True)
                removed += 1
        if day is None:
            try:
                folder.rmdir()
            except OSError:  # not empty: a poster was just drawn for a download
                pass
    return removed


def _is_stale(file: Path, day: date | None) -> bool:
    match = _FILE_NAME.fullmatch(file.name)
    if match:
        return day is None or match["day"] != day.isoformat()
    try:  # a draft left by a worker that died while writing
        return file.name.startswith(_DRAFT_PREFIX) and time.time() - file.stat().st_mtime > 3600
    except FileNotFoundError:
        return False
