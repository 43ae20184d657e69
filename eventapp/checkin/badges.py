"""Printable name badges (PDF, drawn by WeasyPrint): one person's, from the gate's result
screen, or every confirmed registration of an event, four to an A4 sheet, as a job with a
progress bar.

A badge is 90 × 120 mm: the event, the name as large as it fits, the company, the job title
and the QR code of the registration's signed ticket, which booth staff scan to record a lead.
The QR code is a PNG with one pixel per module that WeasyPrint draws unsmoothed
(`image-rendering: pixelated` in static/checkin/badge.css), so it prints sharp at any size
and keeps a thousand badges' PDF small.

A batch's PDF is written to <instance>/badges/<event id>/<job id>.pdf and downloaded from a
link on the finished job; files older than BATCH_KEEP_DAYS go when the next batch starts.
"""

from __future__ import annotations

import base64
import io
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from PIL.ImageFont import FreeTypeFont

from eventapp.contacts.models import Contact
from eventapp.core.errors import Conflict, DomainError, NotFound
from eventapp.core.i18n import current_locale_code, local_number
from eventapp.core.jobs import Job, JobProgress, JobState
from eventapp.core.queue import job_task
from eventapp.events.models import Event, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.booking import ticket_code
from eventapp.invites.poster_text import (PosterFontMissing, PosterFonts, poster_fonts, wrap_lines,
                                          wrap_text)
from eventapp.invites.qrcodes import qr_png

if TYPE_CHECKING:
    from pypdf import PdfWriter
    from weasyprint import CSS, Document

JOB_KIND = "badges"
BADGES_PER_SHEET = 4
#: Badges laid out per WeasyPrint document: each is drawn to PDF and let go before the
#: next (a document's layout holds about 0.2 MiB a badge), the pages joined by pypdf; the
#: job reports its progress after each.
CHUNK = 100
BATCH_KEEP_DAYS = 7
BADGES_FOLDER = "badges"
STYLESHEET = Path(__file__).resolve().parents[2] / "static" / "checkin" / "badge.css"

#: Sizes of the name (CSS classes of badge.css), largest first: (class, points, lines).
#: The badge's text column is 80 mm wide.
NAME_SIZES = (("xl", 34, 1), ("l", 28, 1), ("m", 22, 1), ("l", 28, 2), ("m", 22, 2),
              ("s", 17, 2), ("xs", 13, 3))
TEXT_WIDTH_MM = 80.0
MM_PER_POINT = 25.4 / 72
#: What the company and job title may take: (points, lines) as badge.css sets them.
COMPANY_SIZE, JOB_TITLE_SIZE = (12, 2), (10, 2)


class BadgeOrder(StrEnum):
    NAME = "name"
    COMPANY = "company"


ORDER_LABELS = {BadgeOrder.NAME: _l("By name"), BadgeOrder.COMPANY: _l("By company, then name")}


class NoBadge(Conflict):
    code = "no_badge"
    default_message = _l("Only confirmed bookings get a badge: this one is cancelled or on "
                         "the waiting list.")


class BadgeFontMissing(DomainError):
    status, code = 500, "badge_font_missing"
    default_message = _l("Badges need a Chinese font. Install the fonts-noto-cjk package "
                         "(apt-get install fonts-noto-cjk) or set POSTER_FONT to a font file.")


class NobodyToBadge(Conflict):
    code = "nobody_to_badge"
    default_message = _l("No confirmed bookings yet: there is nobody to print a badge for.")


@dataclass(frozen=True)
class Badge:
    """What one badge shows, cut to what fits."""

    #: Each text broken into the lines it takes (shown with line breaks between them).
    name_lines: tuple[str, ...]
    company_lines: tuple[str, ...]
    job_title_lines: tuple[str, ...]
    code: str
    #: badge.css's size class of the name (xl, l, m, s, xs).
    name_size: str

    @property
    def qr(self) -> str:
        """The QR code of the ticket as a data URI (one pixel per module, with quiet zone)."""
        return "data:image/png;base64," + base64.b64encode(qr_png(self.code, 1)).decode()


# --- fitting the words ------------------------------------------------------------------------

#: Pillow measures text at this many pixels to the em; widths below are in these pixels.
_MEASURE_PX = 100
#: Lines are measured a little narrower than the column: WeasyPrint's kerning and line breaks
#: differ from Pillow's by a hair.
_SLACK = 0.96


def _line_px(points: float) -> float:
    """The text column's width in measuring pixels, for type of `points`."""
    return TEXT_WIDTH_MM * _SLACK / (points * MM_PER_POINT) * _MEASURE_PX


def _measuring_font(bold: bool) -> FreeTypeFont:
    """The badge's font (the CJK font posters use, which WeasyPrint finds too), to measure."""
    fonts = _cjk_fonts()
    return (fonts.bold if bold else fonts.regular).at(_MEASURE_PX)


def fit_lines(text: str, points: float, lines: int, *, bold: bool = True) -> list[str] | None:
    """`text` broken into at most `lines` lines of `points` type, or None if it needs more."""
    wrapped = wrap_text(" ".join(text.split()), _measuring_font(bold), _line_px(points))
    return wrapped if len(wrapped) <= lines else None


def cut_to_fit(text: str, points: float, lines: int, *, bold: bool = True) -> list[str]:
    """`text` in at most `lines` lines of `points` type, the last one cut with an ellipsis
    when the text goes on."""
    return wrap_lines(" ".join(text.split()), _measuring_font(bold), _line_px(points), lines)


def fit_name(name: str) -> tuple[str, list[str]]:
    """The largest size (badge.css class) at which the name fits, one line preferred to two,
    and its lines; at the smallest size an overlong name is cut with an ellipsis."""
    for size, points, lines in NAME_SIZES:
        fitted = fit_lines(name, points, lines)
        if fitted is not None:
            return size, fitted
    size, points, lines = NAME_SIZES[-1]
    return size, cut_to_fit(name, points, lines)


def name_size(name: str) -> str:
    return fit_name(name)[0]


def badge_of(name: str, company: str, job_title: str, code: str) -> Badge:
    size, name_lines = fit_name(name or "")
    return Badge(name_lines=tuple(name_lines),
                 company_lines=tuple(cut_to_fit(company or "", *COMPANY_SIZE)),
                 job_title_lines=tuple(cut_to_fit(job_title or "", *JOB_TITLE_SIZE, bold=False)),
                 code=code, name_size=size)


# --- drawing ----------------------------------------------------------------------------------

def _weasyprint() -> Any:
    """WeasyPrint, imported on first use: it adds about 25 MiB and a second to a process, which
    web workers that never draw a badge should not pay."""
    from PIL import ImageFile

    strict = ImageFile.LOAD_TRUNCATED_IMAGES
    import weasyprint

    # WeasyPrint's import makes Pillow accept cut-off images process-wide; the upload checks
    # of covers and floor plans rely on Pillow refusing them, so that is put back.
    ImageFile.LOAD_TRUNCATED_IMAGES = strict
    logging.getLogger("weasyprint").setLevel(logging.WARNING)  # a line per step at INFO
    return weasyprint


@lru_cache(maxsize=4)
def _stylesheets(font_file: str) -> tuple[CSS, ...]:
    CSS = _weasyprint().CSS  # noqa: N806
    sheets = [CSS(filename=str(STYLESHEET))]
    if font_file.lower().endswith((".ttf", ".otf")):  # POSTER_FONT (a .ttc: through fontconfig)
        sheets.append(CSS(string='@font-face { font-family: "Badge Font"; '
                                 f'src: url("{Path(font_file).as_uri()}"); }}'))
    return tuple(sheets)


def _cjk_fonts() -> PosterFonts:
    """Chinese names need a CJK font (found as for posters); without one they would print as
    empty boxes, so say what to install instead."""
    try:
        return poster_fonts()
    except PosterFontMissing:
        raise BadgeFontMissing() from None


def _layout(event_title: str, badges: Sequence[Badge], *, sheets: bool) -> Document:
    per_sheet = BADGES_PER_SHEET if sheets else 1
    groups = [badges[i:i + per_sheet] for i in range(0, len(badges), per_sheet)]
    html = render_template("checkin/badge.html", event_title=event_title, groups=groups,
                           sheets=sheets, locale=current_locale_code())
    _cjk_fonts()
    return _weasyprint().HTML(string=html, base_url=str(STYLESHEET.parent)).render(
        stylesheets=list(_stylesheets(current_app.config.get("POSTER_FONT") or "")))


def draw_badges(event_title: str, badges: Sequence[Badge], *, sheets: bool) -> bytes:
    """A PDF of the badges: each on a 90 × 120 mm page, or four to an A4 sheet."""
    return _layout(event_title, badges, sheets=sheets).write_pdf()


# --- one person's badge -----------------------------------------------------------------------

def registration_for_badge(event: Event, registration_id: int) -> Registration:
    """The event's registration with this id, confirmed; NotFound or NoBadge otherwise. Signs
    a ticket issued before its event had a key (the caller commits)."""
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.event_id != event.id:
        raise NotFound()
    if registration.status != RegistrationStatus.CONFIRMED:
        raise NoBadge()
    ticket_code(registration)
    return registration


def badge_for(registration: Registration) -> Badge:
    contact = registration.contact
    assert registration.ticket_code is not None
    return badge_of(contact.name, contact.company, contact.job_title, registration.ticket_code)


# --- every confirmed registration, as a job ----------------------------------------------------

def _sign_missing_tickets(event: Event) -> None:
    """Sign the tickets of confirmed registrations issued before their event had a key."""
    unsigned = db.session.scalars(sa.select(Registration).where(
        Registration.event_id == event.id, Registration.status == RegistrationStatus.CONFIRMED,
        Registration.ticket_code.is_(None))).all()
    for registration in unsigned:
        ticket_code(registration)


def confirmed_badges(event: Event, order: BadgeOrder) -> list[Badge]:
    """A badge for every confirmed registration of the event, sorted by name, or by company
    and then name (the same order on SQLite and PostgreSQL: sorted here, not by collation)."""
    _sign_missing_tickets(event)
    rows = db.session.execute(
        sa.select(Registration.id, Contact.name, Contact.company, Contact.job_title,
                  Registration.ticket_code)
        .join(Contact, Contact.id == Registration.contact_id)
        .where(Registration.event_id == event.id,
               Registration.status == RegistrationStatus.CONFIRMED)).all()

    def key(row: Any) -> tuple[Any, ...]:
        name = (row.name or "").casefold()
        if order == BadgeOrder.COMPANY:
            return ((row.company or "").strip() == "", (row.company or "").casefold(), name,
                    row.id)
        return (name, row.id)

    return [badge_of(row.name, row.company, row.job_title, row.ticket_code)
            for row in sorted(rows, key=key)]


def badges_folder(event_id: int) -> Path:
    return Path(current_app.config["EVENTAPP_INSTANCE_PATH"]) / BADGES_FOLDER / str(event_id)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    draft.write_bytes(data)
    draft.replace(path)


def discard_old_batches(event: Event, now: float | None = None) -> int:
    """Delete this event's badge PDFs older than BATCH_KEEP_DAYS; returns how many went."""
    folder = badges_folder(event.id)
    if not folder.is_dir():
        return 0
    limit = (now or time.time()) - BATCH_KEEP_DAYS * 24 * 3600
    removed = 0
    for path in folder.glob("*.pdf"):
        if path.stat().st_mtime < limit:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def make_badges(progress: JobProgress, event_id: int, order: str) -> dict[str, Any]:
    """The batch job: every confirmed registration's badge, four to an A4 page, in one PDF
    stored under the job's id. Safe to run again: the file is written whole, or not at all."""
    locale = progress.locale() or current_app.config["DEFAULT_LOCALE"]
    with force_locale(locale):
        event = db.session.get(Event, event_id)
        if event is None:
            raise NotFound()
        badges = confirmed_badges(event, BadgeOrder(order))
        title, job_id = event.title, progress.job_id
        db.session.commit()  # the signed tickets; no transaction stays open while drawing
        if not badges:
            raise NobodyToBadge()
        total = len(badges)
        progress.update(0, total, message=_("Drawing the badges…"), force=True)
        from pypdf import PdfWriter  # here, like WeasyPrint: ~8 MiB no gate worker needs

        batch = PdfWriter()
        for start in range(0, total, CHUNK):
            _append_pdf(batch, draw_badges(title, badges[start:start + CHUNK], sheets=True))
            done = min(start + CHUNK, total)
            progress.update(done, total, message=_("%(done)s of %(total)s badges drawn",
                                                   done=local_number(done), total=local_number(total)))
        progress.update(total, total, message=_("Putting the pages together…"), force=True)
        pages = len(batch.pages)
        pdf = _pdf_bytes(batch)
        del batch
        _write_atomically(badges_folder(event_id) / f"{job_id}.pdf", pdf)
        db.session.rollback()  # end the read of the job row before the final write
        message = _("%(badges)s badges on %(pages)s pages, ready to print",
                    badges=local_number(total), pages=local_number(pages))
        progress.update(total, total, message=message, force=True)
    return {"badges": total, "pages": pages, "order": order}


def _append_pdf(batch: PdfWriter, pdf: bytes) -> None:
    """Add the pages of `pdf` to the batch (the document's title from the first)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    if not batch.pages and reader.metadata:
        batch.add_metadata(reader.metadata)
    batch.append(reader)


def _pdf_bytes(batch: PdfWriter) -> bytes:
    batch.compress_identical_objects()  # what the chunks have in common, once
    buffer = io.BytesIO()
    batch.write(buffer)
    return buffer.getvalue()


@job_task("eventapp.checkin.make_badges")
def make_badges_task(progress: JobProgress, event_id: int, order: str) -> dict[str, Any]:
    """The batch of badges (see make_badges)."""
    return make_badges(progress, event_id, order)


def batches_of(event: Event, user_id: int, limit: int = 5) -> list[Job]:
    """The latest badge batches this person started for the event, newest first."""
    return list(db.session.scalars(
        sa.select(Job).where(Job.kind == JOB_KIND, Job.event_id == event.id,
                             Job.user_id == user_id)
        .order_by(Job.created_at.desc()).limit(limit)))


def batch_file(event: Event, job_id: str) -> Path:
    """The PDF of a finished batch of this event; NotFound for any other job or file."""
    job = db.session.get(Job, job_id[:36])
    if (job is None or job.kind != JOB_KIND or job.event_id != event.id
            or job.state != JobState.SUCCEEDED):
        raise NotFound()
    path = badges_folder(event.id) / f"{job.id}.pdf"
    if not path.is_file():
        raise NotFound(_l("This batch's PDF was removed after %(days)d days. Start a new "
                          "batch.", days=BATCH_KEEP_DAYS))
    return path

