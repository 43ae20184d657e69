"""The gate tablet online, in Chromium on a tablet (768×1024 portrait and 1024×768 landscape),
in Chinese and in English: a steward scans with a keyboard-wedge scanner (the code typed into
the always-focused field, then Enter) or with the camera (Chromium's fake camera filming a
ticket) and reads a green, amber or red screen; a supervisor finds a person and checks them
in by hand, undoes it, watches the totals and registers a walk-in. What the screen says is
checked against what the server stored. Offline scanning: test_checkin_offline.py."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from PIL import Image
from playwright.sync_api import Page, Playwright, expect

from eventapp.auth.models import User
from eventapp.checkin.models import CheckinPoint, Scan, ScanResult
from eventapp.contacts.models import Contact
from eventapp.core.time import utcnow
from eventapp.events.models import Event, Registration
from eventapp.extensions import db
from eventapp.invites.qrcodes import qr_png
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LOCALES, Browsing, LiveServer
from tests.browser.pages import (expect_language, expect_tidy, expect_touch_targets,
                                 expect_words, log_in)
from tests.factories import Factory

pytestmark = [pytest.mark.browser, pytest.mark.single_db]

SCREENS = {"portrait": {"width": 768, "height": 1024}, "landscape": {"width": 1024, "height": 768}}
#: What a finger has to hit on the gate page.
CONTROLS = ".gate-bar .button, .segmented button, .result .button, .search-bar .button"
GIFT = "定制保温杯 Thermos flask"
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@dataclass
class GateDay:
    event: Event
    gate: CheckinPoint
    steward: User
    supervisor: User
    wang: Registration
    emily: Registration
    oliver: Registration


@pytest.fixture
def day(app: Flask, make: Factory) -> GateDay:
    """A published event that started an hour ago, with a gift, two points, three people and
    a steward and a supervisor at the door."""
    event = make.event(title="2026 智能制造峰会", starts_at=utcnow() - timedelta(hours=1))
    with app.app_context():
        db.session.get(Event, event.id).gift = GIFT
        db.session.commit()
    gate = make.point(event, name="North gate", kind="entrance", hall="Hall 1")
    make.point(event, name="Main stage", kind="session", hall="Hall 1")
    people = [make.registration(event, make.contact(name=name, company=company,
                                                    job_title=title))
              for name, company, title in (("王小明", "华东精密", "采购经理"),
                                           ("Emily Clark", "Clark Robotics", "CTO"),
                                           ("Oliver Smith", "Smith & Sons", ""))]
    steward, supervisor = make.user(name="Tom Becker"), make.user(name="林主管")
    make.membership(event, steward, "staff")
    make.membership(event, supervisor, "supervisor")
    return GateDay(event, gate, steward, supervisor, *people)


def open_gate(browse: Browsing, day: GateDay, user: User, locale: str,
              screen: str = "portrait") -> Page:
    page = browse.open("tablet", locale)
    page.set_viewport_size(SCREENS[screen])
    log_in(page, user.email, Factory.PASSWORD)
    page.goto(f"/events/{day.event.slug}/checkin")
    expect_language(page, locale)
    return page


def choose_point(page: Page, name: str) -> None:
    page.locator("[data-point-choice]", has_text=name).click()
    expect(page.locator("[data-point-name]")).to_have_text(name)


def scan(page: Page, code: str) -> None:
    """What a keyboard-wedge scanner does: type the code very fast, then Enter, into
    whatever has the focus (the page must have put it on its scanner field)."""
    page.keyboard.type(code, delay=0)
    page.keyboard.press("Enter")


def expect_scanner_ready(page: Page) -> None:
    expect(page.locator("[data-scan-input]")).to_be_focused()
    expect(page.locator("[data-scan-input]")).to_have_value("")


def result(page: Page):
    return page.locator("[data-result-screen]")


def expect_result(page: Page, tone: str, locale: str, title: str, name: str | None = None
                  ) -> None:
    expect(result(page)).to_have_attribute("data-tone", tone)
    expect_words(page.locator("[data-result-title]"), locale, title)
    if name is not None:
        expect(page.locator("[data-result-name]")).to_have_text(name)


def forged(code: str) -> str:
    """The ticket with one character of its signature changed (still valid base32)."""
    position = 100
    other = BASE32[(BASE32.index(code[position]) + 1) % len(BASE32)]
    return code[:position] + other + code[position + 1:]


def scans_of(app: Flask, event: Event) -> list[Scan]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Scan).where(Scan.event_id == event.id)
                                       .order_by(Scan.id)))


def local_time(moment, locale: str) -> str:
    """How the page writes a time of today in the event's timezone (Shanghai)."""
    local = moment.astimezone(ZoneInfo("Asia/Shanghai"))
    return local.strftime("%H:%M") if locale == "zh-CN" else local.strftime("%I:%M")


def shot(browse: Browsing, page: Page, name: str) -> None:
    """The screen as the person at the gate sees it (no scrolling), in the test's tmp_path."""
    page.wait_for_timeout(50)
    page.screenshot(path=browse.screenshots / f"{name}.png")


# --- a steward ----------------------------------------------------------------------------

@pytest.mark.parametrize(("locale", "screen"), [("en-US", "portrait"), ("zh-CN", "portrait"),
                                                ("en-US", "landscape"), ("zh-CN", "landscape")])
def test_a_steward_scans_with_a_keyboard_wedge_scanner(app: Flask, browse: Browsing,
                                                       day: GateDay, locale: str,
                                                       screen: str) -> None:
    page = open_gate(browse, day, day.steward, locale, screen)
    expect_words(page.locator("#gate-points-title"), locale, "check-in point")
    shot(browse, page, f"gate-points-{screen}-{locale}")
    choose_point(page, "North gate")
    expect_scanner_ready(page)
    expect(page.locator("[data-search-form]")).to_have_count(0)  # a steward only scans

    scan(page, day.wang.ticket_code)
    expect_result(page, "good", locale, "Valid", "王小明")
    expect(page.locator("[data-result-org]")).to_have_text("华东精密 · 采购经理")
    expect(page.locator("[data-gift-text]")).to_contain_text(GIFT)
    expect_scanner_ready(page)
    shot(browse, page, f"gate-valid-{screen}-{locale}")
    expect_tidy(page, "tablet")
    expect_touch_targets(page, CONTROLS, min_height=44)

    scan(page, day.wang.ticket_code)
    expect_result(page, "warn", locale, "Already checked in", "王小明")
    [first, _again] = scans_of(app, day.event)
    used = page.locator("[data-result-first]")
    expect(used).to_contain_text("North gate")
    expect(used).to_contain_text("Tom Becker")
    expect(used).to_contain_text(local_time(first.scanned_at, locale))
    shot(browse, page, f"gate-already-{screen}-{locale}")

    scan(page, forged(day.emily.ticket_code))
    expect_result(page, "bad", locale, "Forged ticket")
    expect_words(page.locator("[data-result-message]"), locale, "signature")
    expect(page.locator("[data-result-name]")).to_be_hidden()
    shot(browse, page, f"gate-forged-{screen}-{locale}")

    rows = page.locator('[data-recent-for]:visible .recent')
    expect(rows).to_have_count(3)
    expect(rows.locator('[data-field="name"]')).to_have_text(["—", "王小明", "王小明"])
    assert [row.get_attribute("class").split()[-1] for row in rows.all()] == [
        "recent--bad", "recent--warn", "recent--good"]
    results = [s.result for s in scans_of(app, day.event)]
    assert results == [ScanResult.VALID, ScanResult.ALREADY_USED, ScanResult.FORGED]
    expect_scanner_ready(page)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_next_scan_replaces_the_result_at_once(app: Flask, browse: Browsing, day: GateDay,
                                                   locale: str) -> None:
    """Two people in a row, scanned without waiting for the first answer: both are stored,
    the screen shows the second."""
    page = open_gate(browse, day, day.steward, locale)
    choose_point(page, "North gate")

    scan(page, day.emily.ticket_code)
    scan(page, day.oliver.ticket_code)

    expect_result(page, "good", locale, "Valid", "Oliver Smith")
    expect(page.locator('[data-recent-for]:visible .recent [data-field="name"]')).to_have_text(
        ["Oliver Smith", "Emily Clark"], timeout=5_000)
    assert [s.registration_id for s in scans_of(app, day.event)] == [day.emily.id, day.oliver.id]
    # the result stays but fades, ready for whoever comes next
    expect(result(page)).to_have_class(re.compile(r"result--faded"), timeout=8_000)
    expect_scanner_ready(page)
    page.locator("[data-result-name]").click()  # a tap dismisses it
    expect_result(page, "idle", locale, "Ready to scan")
    expect_scanner_ready(page)


def test_the_tablet_remembers_its_point_and_exit_mode(app: Flask, browse: Browsing,
                                                      day: GateDay) -> None:
    page = open_gate(browse, day, day.steward, "en-US", "landscape")
    choose_point(page, "North gate")
    scan(page, day.wang.ticket_code)
    expect_result(page, "good", "en-US", "Valid", "王小明")

    page.get_by_role("button", name="Exit").click()
    expect(page.get_by_role("button", name="Exit")).to_have_attribute("aria-pressed", "true")
    expect_scanner_ready(page)  # a click elsewhere gives the focus back to the scanner
    scan(page, day.wang.ticket_code)
    expect_result(page, "good", "en-US", "Exit recorded", "王小明")

    page.reload()  # the next shift: same tablet, same point, same mode
    expect(page.locator("[data-point-name]")).to_have_text("North gate")
    expect(page.get_by_role("button", name="Exit")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Entry").click()
    scan(page, day.wang.ticket_code)
    expect_result(page, "good", "en-US", "Welcome back", "王小明")
    expect(page.locator('[data-recent-for]:visible .recent')).to_have_count(3)
    stored = scans_of(app, day.event)
    assert [s.result for s in stored] == [ScanResult.VALID, ScanResult.EXIT, ScanResult.REENTRY]
    assert len({s.device_id for s in stored}) == 1 and stored[0].device_id

    page.get_by_role("button", name="Change point").click()
    choose_point(page, "Main stage")
    expect(page.locator("[data-recent-empty]")).to_be_visible()
    scan(page, day.wang.ticket_code)
    expect_result(page, "good", "en-US", "Valid", "王小明")
    with app.app_context():
        room = db.session.scalar(sa.select(CheckinPoint.id).where(
            CheckinPoint.name == "Main stage"))
    assert scans_of(app, day.event)[-1].point_id == room


@pytest.mark.parametrize("locale", LOCALES)
def test_the_gift_is_handed_out_once_from_the_result_screen(app: Flask, browse: Browsing,
                                                            day: GateDay, locale: str) -> None:
    page = open_gate(browse, day, day.steward, locale)
    choose_point(page, "North gate")
    scan(page, day.emily.ticket_code)
    expect_result(page, "good", locale, "Valid", "Emily Clark")

    page.locator("[data-gift-button]").click()
    expect_result(page, "good", locale, "Hand out the gift", "Emily Clark")
    expect(page.locator("[data-result-gift]")).to_be_hidden()
    expect_scanner_ready(page)
    with app.app_context():
        assert db.session.get(Registration, day.emily.id).gift_given_at is not None

    scan(page, day.emily.ticket_code)  # at the entrance again: in already, gift given
    expect_result(page, "warn", locale, "Already checked in", "Emily Clark")
    expect(page.locator("[data-result-gift]")).to_be_hidden()


def test_the_camera_reads_a_ticket_qr_code(browse: Browsing, day: GateDay) -> None:
    """The camera's decoder (the vendored jsQR, as gate-camera.js runs it on a frame) reads a
    ticket's QR code as the ticket page and e-mails draw it, at full size and at half size."""
    page = open_gate(browse, day, day.steward, "en-US")
    picture = "data:image/png;base64," + base64.b64encode(qr_png(day.wang.ticket_code)).decode()
    read = page.evaluate("""async ([picture, src]) => {
      const { loadDecoder, decodeImage } = await import('/static/checkin/gate-camera.js');
      const jsQR = await loadDecoder(src);
      const image = new Image();
      image.src = picture;
      await image.decode();
      const out = [];
      for (const scale of [1, 0.5]) {
        const canvas = document.createElement('canvas');
        canvas.width = Math.round(image.width * scale);
        canvas.height = Math.round(image.height * scale);
        const context = canvas.getContext('2d');
        context.drawImage(image, 0, 0, canvas.width, canvas.height);
        out.push(decodeImage(jsQR, context.getImageData(0, 0, canvas.width, canvas.height)));
      }
      return out;
    }""", [picture, page.locator("[data-gate]").get_attribute("data-jsqr-src")])
    assert read == [day.wang.ticket_code, day.wang.ticket_code]


def camera_film(code: str, path: Path) -> Path:
    """A Y4M film of the ticket's QR code held in front of the camera, for Chromium's fake
    camera: 640×480, the code drawn as the ticket page draws it, on a grey desk."""
    picture = Image.new("RGB", (640, 480), (150, 150, 150))
    code_image = Image.open(io.BytesIO(qr_png(code))).convert("RGB").resize((400, 400))
    picture.paste(code_image, (120, 40))
    y, cb, cr = picture.convert("YCbCr").split()
    half = (320, 240)
    frame = b"FRAME\n" + y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    path.write_bytes(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n" + frame * 10)
    return path


def test_the_camera_scans_a_ticket_held_up_to_it(app: Flask, playwright: Playwright,
                                                 live_server: LiveServer, day: GateDay,
                                                 tmp_path: Path) -> None:
    """The whole camera path in a Chromium whose camera films a ticket's QR code: Start
    camera, the rear camera's picture, jsQR reads the code, the scan is checked in once."""
    film = camera_film(day.wang.ticket_code, tmp_path / "ticket.y4m")
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
        *CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={film}"])
    browse = Browsing(browser, live_server, tmp_path)
    try:
        page = open_gate(browse, day, day.steward, "en-US", "landscape")
        choose_point(page, "North gate")
        page.get_by_role("button", name="Start camera").click()
        expect(page.locator("[data-camera-video]")).to_be_in_viewport(ratio=1)
        expect_result(page, "good", "en-US", "Valid", "王小明")
        expect(result(page)).to_be_in_viewport(ratio=1)
        expect(page.get_by_role("button", name="Stop camera")).to_have_attribute(
            "aria-pressed", "true")
        shot(browse, page, "gate-camera-landscape")
        page.wait_for_timeout(1500)  # the code stays in front of the camera: one scan
        assert [s.result for s in scans_of(app, day.event)] == [
            ScanResult.VALID]
        page.get_by_role("button", name="Stop camera").click()
        expect(page.locator("[data-camera]")).to_be_hidden()
        expect_scanner_ready(page)
        assert not browse.unexpected_problems(), browse.unexpected_problems()
    finally:
        browse.close()
        browser.close()


def test_without_a_camera_the_tablet_says_why(browse: Browsing, day: GateDay) -> None:
    page = open_gate(browse, day, day.steward, "en-US")
    choose_point(page, "North gate")
    page.get_by_role("button", name="Start camera").click()
    expect(page.locator("[data-camera-error]")).to_contain_text("The camera cannot be used")
    expect(page.locator("[data-camera-video]")).to_be_hidden()
    expect(page.get_by_role("button", name="Start camera")).to_be_visible()
    shot(browse, page, "gate-no-camera")
    expect_scanner_ready(page)  # the scanner still works
    scan(page, day.oliver.ticket_code)
    expect_result(page, "good", "en-US", "Valid", "Oliver Smith")
    page.locator("[data-camera-error]").click()  # read: out of the way
    expect(page.locator("[data-camera]")).to_be_hidden()


def test_conflicts_found_by_the_sync_are_shown_until_seen(browse: Browsing,
                                                          day: GateDay) -> None:
    """What the gate client reports after syncing offline scans (tests/browser/
    test_checkin_offline.py makes real ones): who, where and when this tablet let them in,
    and where they had been let in first."""
    page = open_gate(browse, day, day.steward, "en-US")
    choose_point(page, "North gate")
    page.evaluate("""async ({ eventId, first }) => {
      const { openGateStore } = await import('/static/checkin/offline-store.js');
      const store = await openGateStore(eventId);
      await store.addConflicts([{ client_scan_id: 'c-1', name: 'Emily Clark',
        point: 'North gate', when: first, result: 'already_used',
        first: { at: first, point: 'South gate', staff: 'Ann Lee', scan_id: 1 } }]);
      store.close();
    }""", {"eventId": day.event.id, "first": "2026-05-01T02:30:00+00:00"})
    page.reload()  # the client reads its conflicts on start

    box = page.locator("[data-gate-status]")
    expect(box).to_be_visible()
    expect(page.locator("[data-conflict-list] li")).to_have_text(
        "Emily Clark, scanned May 1, 10:30 AM at North gate: "
        "First used May 1, 10:30 AM at South gate by Ann Lee")
    expect(page.locator("[data-status-line]")).to_be_hidden()  # online, nothing waiting
    page.get_by_role("button", name="Seen").click()
    expect(box).to_be_hidden()
    expect_scanner_ready(page)
    page.reload()
    expect(page.locator("[data-point-name]")).to_have_text("North gate")
    expect(box).to_be_hidden()


# --- a supervisor -------------------------------------------------------------------------

@pytest.mark.parametrize(("locale", "screen"), [("en-US", "portrait"), ("zh-CN", "landscape")])
def test_a_supervisor_checks_in_by_hand_and_undoes_it(app: Flask, browse: Browsing,
                                                      day: GateDay, locale: str,
                                                      screen: str) -> None:
    page = open_gate(browse, day, day.supervisor, locale, screen)
    choose_point(page, "North gate")
    entries = page.locator('[data-total="entries"]')
    expect(entries).to_have_text("0")
    expect(page.locator('[data-total="expected"]')).to_have_text("3")

    search = page.locator("[data-search-input]")
    search.click()
    page.keyboard.type("Clark")
    page.wait_for_timeout(400)
    expect(search).to_be_focused()  # the scanner field does not steal a supervisor's typing
    hit = page.locator(".hit", has_text="Emily Clark")
    expect(hit).to_have_count(1)
    expect(hit).to_contain_text("Clark Robotics · CTO")
    hit.locator("[data-check-in]").click()

    expect_result(page, "good", locale, "Valid", "Emily Clark")
    expect(result(page)).to_be_in_viewport(ratio=1)
    expect_scanner_ready(page)
    expect(page.locator(".hit")).to_have_count(0)
    expect(entries).to_have_text("1")
    [by_hand] = scans_of(app, day.event)
    assert by_hand.manual and by_hand.staff_user_id == day.supervisor.id
    shot(browse, page, f"gate-supervisor-{screen}-{locale}")
    expect_tidy(page, "tablet")

    page.locator("[data-undo-last]").click()
    expect_result(page, "neutral", locale, "Undone", "Emily Clark")
    expect(page.locator('[data-recent-for]:visible .recent').nth(1)).to_have_class(
        re.compile(r"recent--undone"))
    expect(entries).to_have_text("0")
    with app.app_context():
        assert db.session.get(Scan, by_hand.id).undone_at is not None
        assert db.session.get(Registration, day.emily.id).checked_in_at is None

    scan(page, day.emily.ticket_code)  # undone: she can be checked in again
    expect_result(page, "good", locale, "Valid", "Emily Clark")


@pytest.mark.parametrize(("locale", "screen"), [("zh-CN", "landscape"), ("en-US", "portrait")])
def test_a_supervisor_registers_a_walk_in(app: Flask, browse: Browsing, day: GateDay,
                                          locale: str, screen: str) -> None:
    page = open_gate(browse, day, day.supervisor, locale, screen)
    choose_point(page, "North gate")
    page.locator("[data-walkin] summary").click()
    form = page.locator("[data-walkin-form]")

    browse.expect_status(422)
    form.locator("button[type=submit]").click()  # nothing filled in
    expect(form.locator(".field--error")).to_have_count(3)  # name, mobile, consent
    expect(form.locator(".field--error input[name=name]")).to_have_count(1)
    expect(form.locator(".field--error input[name=consent]")).to_have_count(1)
    shot(browse, page, f"gate-walk-in-errors-{screen}-{locale}")

    form.locator("input[name=name]").click()
    page.keyboard.type("周杰")
    expect(form.locator("input[name=name]")).to_be_focused()
    form.locator("input[name=phone]").fill("139 1234 5678")
    form.locator("input[name=company]").fill("杰出制造")
    form.locator("input[name=consent]").check()
    form.locator("button[type=submit]").click()

    expect_result(page, "good", locale, "Valid", "周杰")
    expect(result(page)).to_be_in_viewport(ratio=1)  # back up from the bottom of the form
    expect(page.locator("[data-point-name]")).to_be_in_viewport()
    expect(page.locator("[data-walkin]")).not_to_have_attribute("open", "")
    expect_scanner_ready(page)
    with app.app_context():
        registration, contact = db.session.execute(
            sa.select(Registration, Contact)
            .join(Contact, Registration.contact_id == Contact.id)
            .where(Registration.event_id == day.event.id, Contact.name == "周杰")).one()
        assert registration.checked_in_at is not None
        assert contact.phone == "+8613912345678"
    badge = page.locator("[data-badge-link]")
    expect(badge).to_have_attribute(
        "href", f"/events/{day.event.slug}/checkin/badges/{registration.id}.pdf")
    expect(page.locator('[data-recent-for]:visible .recent [data-field="name"]').first
           ).to_have_text("周杰")
    shot(browse, page, f"gate-walk-in-{screen}-{locale}")
