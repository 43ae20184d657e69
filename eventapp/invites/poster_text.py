"""The words of a countdown poster and how they are set: the countdown and the date line in
the event's timezone, the CJK font, and line breaking that suits both scripts (Chinese may break
between any two characters, English only between words, and closing punctuation never starts a
line)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Protocol

from babel.dates import format_datetime
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from PIL import ImageFont

from eventapp.core.errors import DomainError
from eventapp.core.time import in_zone, utcnow, zone

#: Where distributions install Noto Sans CJK (Debian/Ubuntu's fonts-noto-cjk first), for
#: machines without fontconfig's `fc-match`.
KNOWN_FONT_FILES = {
    "Regular": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
                "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
                "/usr/share/fonts/opentype/noto-cjk/NotoSansCJK-Regular.ttc"),
    "Bold": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
             "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
             "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc",
             "/usr/share/fonts/opentype/noto-cjk/NotoSansCJK-Bold.ttc"),
}
ELLIPSIS = "…"
#: The date line of each language, in the event's timezone.
DATE_PATTERNS = {"zh_CN": "y年M月d日 EEE HH:mm", "en": "EEE d MMM y, HH:mm"}

_CJK = ("\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u9fff\uac00-\ud7af"
        "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef")
#: One Chinese character, a run of spaces, or a word of anything else.
_PIECES = re.compile(rf"[{_CJK}]|\s+|[^\s{_CJK}]+")
#: Characters that hang at the end of a line rather than start the next one.
_NO_LINE_START = frozenset("，。、；：！？）》」』】〉”’,.;:!?)]}%…·")


class PosterEvent(Protocol):
    """What a poster shows of an event: an Event, or EventFacts read before drawing."""

    id: int
    slug: str
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    venue: str
    address: str
    cover_image: str | None


# --- the countdown --------------------------------------------------------------------------

class Phase(StrEnum):
    UPCOMING = "upcoming"
    TODAY = "today"
    UNDERWAY = "underway"  # a day after the first of an event lasting several days
    ENDED = "ended"


PHASE_TEXTS = {Phase.TODAY: _l("Happening today"), Phase.UNDERWAY: _l("Happening now"),
               Phase.ENDED: _l("This event has ended")}


@dataclass(frozen=True)
class Countdown:
    phase: Phase
    days: int = 0

    def text(self, number: str | None = None) -> str:
        """"3 days to go", "Happening today"... in the current language (`number` stands in
        for the figure, which the poster draws apart)."""
        if self.phase is Phase.UPCOMING:
            return ngettext("%(days)s day to go", "%(days)s days to go", self.days,
                            days=number if number is not None else str(self.days))
        return str(PHASE_TEXTS[self.phase])


def event_today(event: PosterEvent, now: datetime | None = None) -> date:
    """The date it is `now` where the event takes place (posters change at its midnight)."""
    return in_zone(now or utcnow(), event.timezone).date()


def countdown(event: PosterEvent, today: date) -> Countdown:
    """Where `today`, a date in the event's timezone, stands against the event's days."""
    first = in_zone(event.starts_at, event.timezone).date()
    last = in_zone(event.ends_at, event.timezone).date()
    if today < first:
        return Countdown(Phase.UPCOMING, (first - today).days)
    if today == first:
        return Countdown(Phase.TODAY)
    return Countdown(Phase.UNDERWAY) if today <= last else Countdown(Phase.ENDED)


def poster_date(event: PosterEvent, locale: str) -> str:
    """The start as the poster shows it, in the event's timezone: "Thu 3 Dec 2026, 09:00"."""
    return format_datetime(event.starts_at, DATE_PATTERNS[locale], tzinfo=zone(event.timezone),
                           locale=locale)


# --- the font ---------------------------------------------------------------------------------

class PosterFontMissing(DomainError):
    status, code = 500, "poster_font_missing"
    default_message = _l("Posters need a Chinese font. Install the fonts-noto-cjk package "
                         "(apt-get install fonts-noto-cjk) or set POSTER_FONT to a font file.")


@dataclass(frozen=True)
class FontFile:
    """A font file and, in a collection (.ttc), the face to use."""

    path: str
    index: int = 0

    def at(self, size: int) -> ImageFont.FreeTypeFont:
        return _font(self.path, self.index, size)


@dataclass(frozen=True)
class PosterFonts:
    regular: FontFile
    bold: FontFile


def poster_fonts() -> PosterFonts:
    """The fonts posters are drawn in: POSTER_FONT if set, else Noto Sans CJK SC (found through
    fontconfig, then in the usual places); raises PosterFontMissing naming the package."""
    return _find_fonts(current_app.config.get("POSTER_FONT") or "")


@lru_cache(maxsize=4)
def _find_fonts(configured: str) -> PosterFonts:
    if configured:
        if not os.path.isfile(configured):
            raise PosterFontMissing(_l("POSTER_FONT names %(path)s, which is not a file. Point "
                                       "it to a CJK font (.ttf, .otf or .ttc) or leave it "
                                       "empty to use fonts-noto-cjk.", path=configured))
        font = FontFile(configured, simplified_chinese_face(configured))
        return PosterFonts(font, font)
    return PosterFonts(_system_font("Regular"), _system_font("Bold"))


def _system_font(style: str) -> FontFile:
    found = _fc_match(style)
    if found is not None:
        return found
    for path in KNOWN_FONT_FILES[style]:
        if os.path.isfile(path):
            return FontFile(path, simplified_chinese_face(path))
    raise PosterFontMissing()


def _fc_match(style: str) -> FontFile | None:
    """Noto Sans CJK SC as fontconfig knows it; None if fontconfig is missing or offers some
    other font instead (fc-match always answers with its best guess)."""
    try:
        answer = subprocess.run(
            ["fc-match", "-f", "%{file}|%{index}|%{family}", f"Noto Sans CJK SC:style={style}"],
            capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    path, _bar, rest = answer.partition("|")
    index, _bar, family = rest.partition("|")
    if "CJK" not in family or not os.path.isfile(path):
        return None
    return FontFile(path, int(index) if index.isdigit() else 0)


def simplified_chinese_face(path: str) -> int:
    """The index of the Simplified Chinese face in a font collection (Noto's .ttc holds the
    Japanese, Korean, Simplified and Traditional faces, whose glyphs differ); 0 otherwise."""
    for index in range(32):
        try:
            family = ImageFont.truetype(path, 12, index=index).getname()[0] or ""
        except OSError:
            break
        if "SC" in family.split():
            return index
    try:
        ImageFont.truetype(path, 12)
    except OSError:
        raise PosterFontMissing(_l("%(path)s is not a font file Pillow can read. Set "
                                   "POSTER_FONT to a CJK font (.ttf, .otf or .ttc).",
                                   path=path)) from None
    return 0


@lru_cache(maxsize=64)
def _font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=index)


# --- line breaking -----------------------------------------------------------------------

def _pieces(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """Unbreakable pieces of `text`: Chinese characters, spaces, words (a word wider than the
    line is cut into characters)."""
    pieces: list[str] = []
    for piece in _PIECES.findall(" ".join(text.split())):
        if len(piece) > 1 and not piece.isspace() and font.getlength(piece) > width:
            pieces.extend(piece)
        else:
            pieces.append(piece)
    return pieces


def wrap_text(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """`text` broken into lines no wider than `width` in `font` (closing punctuation may
    overhang a little: it stays with the word before it)."""
    lines: list[str] = []
    line = ""
    for piece in _pieces(text, font, width):
        if piece.isspace():
            line += " " if line else ""
        elif not line or font.getlength(line + piece) <= width or piece in _NO_LINE_START:
            line += piece
        else:
            lines.append(line.rstrip())
            line = piece
    if line.strip():
        lines.append(line.rstrip())
    return lines


def ellipsize(text: str, font: ImageFont.FreeTypeFont, width: float) -> str:
    """`text` cut with an ellipsis so that it fits `width` (unchanged if it already fits)."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text.rstrip() + ELLIPSIS) > width:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS


def wrap_lines(text: str, font: ImageFont.FreeTypeFont, width: float,
               max_lines: int) -> list[str]:
    """As wrap_text, at most `max_lines` lines: the last one ends with an ellipsis when the
    text goes on."""
    lines = wrap_text(text, font, width)
    if len(lines) <= max_lines:
        return lines
    rest = " ".join(lines[max_lines - 1:]) if _is_latin(lines[max_lines - 1]) \
        else "".join(lines[max_lines - 1:])
    return [*lines[:max_lines - 1], ellipsize(rest, font, width)]


def _is_latin(text: str) -> bool:
    return not re.search(rf"[{_CJK}]", text)
