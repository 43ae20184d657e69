"""Printable badges: one person's PDF (a real PDF whose text has the name, company and job
title, and whose QR code a real decoder reads back to the signed ticket), names in any script
and of any length fitting their badge, who may print them, and the batch job that lays every
confirmed registration's badge four to an A4 page."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import time
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from eventapp.checkin import badges
from eventapp.core.jobs import Job, JobState
from eventapp.events.models import Event, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.tickets import verify_ticket

MM = 72 / 25.4  # PDF points per millimetre
BADGE_SIZE = (90 * MM, 120 * MM)
A4 = (210 * MM, 297 * MM)
#: The bottom of the box of the person's details, just above the QR code (badge.css: the box
#: is 21 to 71 mm from the top, the QR code 40 mm high, 8 mm above the bottom edge).
DETAILS_BOTTOM = 71 * MM
_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                   r'(.*?)</word>')
_PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)


# --- reading PDFs as a person's tools do ---------------------------------------------------------

def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install {package})")
    return path


def _run(*command: str) -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result


def pdf_pages(pdf: bytes, folder: Path) -> list[dict[str, Any]]:
    """Each page of the PDF (as poppler reads it): its size in points and its words with their
    boxes. A file poppler cannot read fails the test."""
    assert pdf.startswith(b"%PDF-"), pdf[:20]
    path = folder / "badge.pdf"
    path.write_bytes(pdf)
    layout = _run(_tool("pdftotext", "poppler-utils"), "-bbox", str(path), "-").stdout.decode()
    pages = []
    for width, height, body in _PAGE.findall(layout):
        words = [(float(x0), float(y0), float(x1), float(y1), unescape(text))
                 for x0, y0, x1, y1, text in _WORD.findall(body)]
        pages.append({"size": (float(width), float(height)), "words": words,
                      "text": " ".join(word[4] for word in words)})
    return pages


def qr_codes_on_page(pdf: bytes, page: int, folder: Path, dpi: int = 200) -> list[str]:
    """What zbar, a real QR decoder, reads on the page drawn as a printer would."""
    path = folder / "page.pdf"
    path.write_bytes(pdf)
    _run(_tool("pdftoppm", "poppler-utils"), "-r", str(dpi), "-f", str(page), "-l", str(page),
         "-png", "-singlefile", str(path), str(folder / "page"))
    result = subprocess.run([_tool("zbarimg", "zbar-tools"), "--raw", "-q",
                             str(folder / "page.png")], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, f"zbar read nothing: {result.stderr}"
    return [line for line in result.stdout.splitlines() if line.strip()]


def assert_verifies(app: Any, event: Event, code: str) -> int:
    """The code is a genuine ticket of the event; returns its serial."""
    with app.app_context():
        key = db.session.get(Event, event.id).ticket_public_key
    return verify_ticket(code, event.id, key).serial


def badge_url(event: Event, registration: Registration) -> str:
    return f"/events/{event.slug}/checkin/badges/{registration.id}.pdf"


# --- one person's badge ------------------------------------------------------------------------

def test_a_badge_is_a_pdf_with_name_company_title_and_a_signed_qr_code(
        app, make, event, staff_client, tmp_path):
    contact = make.contact(name="王小明", company="华东精密机械有限公司",
                           job_title="Head of Procurement")
    registration = make.registration(event, contact)

    response = staff_client.get(badge_url(event, registration))

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert "no-store" in response.headers["Cache-Control"]
    pages = pdf_pages(response.data, tmp_path)
    assert len(pages) == 1
    assert pages[0]["size"] == pytest.approx(BADGE_SIZE, abs=0.5)
    text = pages[0]["text"]
    for shown in ("王小明", "华东精密机械有限公司", "Head of Procurement", event.title):
        assert shown in text, (shown, text)
    codes = qr_codes_on_page(response.data, 1, tmp_path)
    assert codes == [registration.ticket_code]
    assert assert_verifies(app, event, codes[0]) == registration.ticket_serial


NAMES = [
    pytest.param("欧阳娜娜", "上海", id="short Chinese"),
    pytest.param("Zoë Müller 😀🎉", "Émile & Fils", id="accents and emoji"),
    pytest.param("爱新觉罗·溥仪" * 6, "中国第一汽车集团有限公司" * 10, id="very long Chinese"),
    pytest.param("Maximilian Alexander Friedrich von Hohenzollern-Sigmaringen " * 2,
                 "International Business Machines Corporation " * 4, id="very long Latin"),
    pytest.param("W" * 120, "M" * 200, id="widest letters, no spaces"),
]


@pytest.mark.single_db
@pytest.mark.parametrize(("name", "company"), NAMES)
def test_names_in_any_script_and_length_fit_their_badge(app, name, company, tmp_path):
    with app.test_request_context():
        badge = badges.badge_of(name, company, "Senior Vice President of Global Procurement "
                                "and Strategic Sourcing, Asia Pacific", "A" * 124)
        pdf = badges.draw_badges("Smart Manufacturing Expo 2026", [badge], sheets=False)

    pages = pdf_pages(pdf, tmp_path)
    assert len(pages) == 1, "a long name must not push the badge onto a second page"
    width, height = pages[0]["size"]
    for x0, y0, x1, y1, word in pages[0]["words"]:
        assert 0 <= x0 and x1 <= width + 0.5, f"{word!r} runs off the badge"
        if word != "Smart" and y0 > 15 * MM:  # below the event band: the person's details
            assert y1 <= DETAILS_BOTTOM, f"{word!r} runs into the QR code"
    shown = pages[0]["text"].replace(" ", "")
    first_word = re.split(r"[\s·]", name.strip())[0]
    assert first_word[:8] in shown
    assert qr_codes_on_page(pdf, 1, tmp_path) == ["A" * 124]


@pytest.mark.single_db
def test_longer_names_get_smaller_type_and_overlong_ones_an_ellipsis(app):
    with app.app_context():
        sizes = [badges.name_size(name) for name in (
            "王伟", "Christopher Johnson", "Maximilian Alexander von Hohenzollern", "W" * 60)]
        order = ["xl", "l", "m", "s", "xs"]
        assert [order.index(size) for size in sizes] == sorted(order.index(s) for s in sizes)
        assert sizes[0] == "xl" and sizes[-1] == "xs"
        cut = badges.cut_to_fit("王" * 300, 13, 3)
        assert len(cut) == 3 and cut[-1].endswith("…")
        assert badges.cut_to_fit("王小明", 13, 3) == ["王小明"]
        assert badges.badge_of("王小明", "", "", "A" * 124).company_lines == ()


@pytest.mark.parametrize("role, status", [("staff", 200), ("supervisor", 200), ("marketer", 200),
                                          ("admin", 200), ("sales", 403), (None, 403)])
def test_gate_staff_print_badges_and_nobody_else(app, make, event, client, role, status):
    registration = make.registration(event)
    user = make.user(admin=role == "admin")
    if role not in (None, "admin"):
        make.membership(event, user, role)
    client.login(user.email, make.PASSWORD)

    response = client.get(badge_url(event, registration))

    assert response.status_code == status
    assert (response.mimetype == "application/pdf") == (status == 200)


def test_no_badge_without_login_for_another_event_or_an_unconfirmed_booking(
        app, make, event, client, staff_client):
    registration = make.registration(event)
    assert client.get(badge_url(event, registration)).status_code in (302, 401)

    other = make.event()
    elsewhere = make.registration(other)
    assert staff_client.get(f"/events/{event.slug}/checkin/badges/{elsewhere.id}.pdf"
                            ).status_code == 404
    cancelled = make.registration(event, status=RegistrationStatus.CANCELLED)
    response = staff_client.get(badge_url(event, cancelled))
    assert response.status_code == 409
    assert "Only confirmed bookings get a badge" in response.get_data(as_text=True)


def test_a_ticket_issued_before_its_event_had_a_key_is_signed_for_its_badge(
        app, make, event, staff_client, tmp_path):
    registration = make.registration(event)
    with app.app_context():
        db.session.get(Registration, registration.id).ticket_code = None
        db.session.commit()

    response = staff_client.get(badge_url(event, registration))

    assert response.status_code == 200
    with app.app_context():
        code = db.session.get(Registration, registration.id).ticket_code
    assert code is not None
    assert qr_codes_on_page(response.data, 1, tmp_path) == [code]
    assert assert_verifies(app, event, code) == registration.ticket_serial


# --- the batch ---------------------------------------------------------------------------------

def _job_of(app: Any, event: Event) -> Job:
    with app.app_context():
        return db.session.scalars(sa.select(Job).where(Job.event_id == event.id,
                                                       Job.kind == badges.JOB_KIND)).one()


def test_the_batch_lays_every_confirmed_badge_four_to_an_a4_page(
        app, make, event, marketer_client, tmp_path):
    people = [("Zhang Wei", "Delta Motors"), ("An Li", "Beta Robotics"),
              ("Chen Jie", "Alpha Automation"), ("Bo Yang", "Alpha Automation"),
              ("Du Fang", "Gamma Sensors"), ("Ma Lin", "")]
    registrations = [make.registration(event, make.contact(name=name, company=company))
                     for name, company in people]
    make.registration(event, make.contact(name="Cancelled Person"),
                      status=RegistrationStatus.CANCELLED)
    make.registration(event, make.contact(name="Waiting Person"),
                      status=RegistrationStatus.WAITLISTED)

    response = marketer_client.post_form(f"/events/{event.slug}/checkin/badges",
                                         {"order": "company"})

    assert response.status_code == 303
    job = _job_of(app, event)
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result == {"badges": 6, "pages": 2, "order": "company"}
    assert (job.user_id, job.done, job.total) == (marketer_client.user.id, 6, 6)
    page = marketer_client.get(response.headers["Location"]).get_data(as_text=True)
    download = f"/events/{event.slug}/checkin/badges/batches/{job.id}.pdf"
    assert f'href="{download}"' in page
    assert "6 badges on 2 pages, ready to print" in page

    pdf = marketer_client.get(download)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"].startswith("attachment;")
    pages = pdf_pages(pdf.data, tmp_path)
    assert len(pages) == math.ceil(6 / badges.BADGES_PER_SHEET)
    assert all(p["size"] == pytest.approx(A4, abs=0.5) for p in pages)
    text = " | ".join(p["text"] for p in pages)
    order = ["Bo Yang", "Chen Jie", "An Li", "Zhang Wei", "Du Fang", "Ma Lin"]  # no company last
    assert [text.index(name) for name in order] == sorted(text.index(name) for name in order)
    assert "Cancelled Person" not in text and "Waiting Person" not in text
    first_page = qr_codes_on_page(pdf.data, 1, tmp_path)
    assert len(first_page) == 4
    serials = {assert_verifies(app, event, code) for code in
               first_page + qr_codes_on_page(pdf.data, 2, tmp_path)}
    assert serials == {r.ticket_serial for r in registrations}


def test_the_batch_by_name(app, make, event, marketer_client, tmp_path):
    for name in ("Yu Hong", "王芳", "Ai Bo"):
        make.registration(event, make.contact(name=name))
    marketer_client.post_form(f"/events/{event.slug}/checkin/badges", {"order": "name"})
    job = _job_of(app, event)
    pdf = marketer_client.get(f"/events/{event.slug}/checkin/badges/batches/{job.id}.pdf")
    text = pdf_pages(pdf.data, tmp_path)[0]["text"]
    assert text.index("Ai Bo") < text.index("Yu Hong") < text.index("王芳")


def test_a_batch_drawn_in_chunks_is_one_pdf_in_order(
        app, make, event, marketer_client, tmp_path, monkeypatch):
    """A large batch is drawn a chunk at a time (so a worker's memory does not grow with the
    event) and the chunks' pages joined: every page in order, every QR code readable."""
    monkeypatch.setattr(badges, "CHUNK", 4)
    names = [f"Person {letter}" for letter in "ABCDEFGHI"]  # 9 badges: chunks of 4, 4 and 1
    registrations = [make.registration(event, make.contact(name=name)) for name in names]

    marketer_client.post_form(f"/events/{event.slug}/checkin/badges", {"order": "name"})

    job = _job_of(app, event)
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result == {"badges": 9, "pages": 3, "order": "name"}
    pdf = marketer_client.get(f"/events/{event.slug}/checkin/badges/batches/{job.id}.pdf").data
    pages = pdf_pages(pdf, tmp_path)
    assert len(pages) == 3 and all(p["size"] == pytest.approx(A4, abs=0.5) for p in pages)
    assert [[name for name in names if name in page["text"]] for page in pages] == [
        names[:4], names[4:8], names[8:]]
    codes = [code for page in (1, 2, 3) for code in qr_codes_on_page(pdf, page, tmp_path)]
    assert len(codes) == 9
    assert {assert_verifies(app, event, code) for code in codes} == {
        r.ticket_serial for r in registrations}


def test_a_batch_of_nobody_starts_no_job(app, make, event, marketer_client):
    make.registration(event, status=RegistrationStatus.CANCELLED)
    response = marketer_client.post_form(f"/events/{event.slug}/checkin/badges",
                                         {"order": "name"}, follow_redirects=True)
    assert "there is nobody to print a badge for" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def test_only_marketing_starts_batches_and_downloads_only_their_events(
        app, make, event, marketer_client, staff_client, sales_client, client):
    make.registration(event)
    marketer_client.post_form(f"/events/{event.slug}/checkin/badges", {"order": "name"})
    job = _job_of(app, event)
    download = f"/events/{event.slug}/checkin/badges/batches/{job.id}.pdf"

    assert marketer_client.get(download).status_code == 200
    for someone in (staff_client, sales_client):
        assert someone.get(f"/events/{event.slug}/checkin/badges").status_code == 403
        assert someone.post_form(f"/events/{event.slug}/checkin/badges").status_code == 403
        assert someone.get(download).status_code == 403
    other = make.event()
    make.membership(other, marketer_client.user, "marketer")
    # Another event's page does not hand out this event's batch, nor an unknown job's.
    assert marketer_client.get(f"/events/{other.slug}/checkin/badges/batches/{job.id}.pdf"
                               ).status_code == 404
    assert marketer_client.get(f"/events/{event.slug}/checkin/badges/batches/nope.pdf"
                               ).status_code == 404
    assert client.get(download).status_code in (302, 401)


def test_old_batch_files_are_removed_when_a_new_batch_starts(app, make, event):
    with app.app_context():
        folder = badges.badges_folder(event.id)
        folder.mkdir(parents=True)
        old, new = folder / "old.pdf", folder / "new.pdf"
        old.write_bytes(b"%PDF-old")
        new.write_bytes(b"%PDF-new")
        long_ago = time.time() - (badges.BATCH_KEEP_DAYS + 1) * 24 * 3600
        os.utime(old, (long_ago, long_ago))
        assert badges.discard_old_batches(db.session.get(Event, event.id)) == 1
    assert not old.exists() and new.exists()
