"""The acceptance of the gate's offline mode (issue 13), on a tablet (Chromium, 768×1024):
the gate page loads online and keeps the roster; the browser's network is switched off; the
tablet notices by itself, and 20 tickets typed by a keyboard-wedge scanner show green from the
tablet's own check (one forged ticket red), while another gate redeems one of them through
the API; a reload with no network still shows the page (from the service worker) and its
waiting scans (from IndexedDB); back online, the tablet syncs by itself: all its scans are on
the server, marked offline, and the ticket used at two gates is reported on the page."""

from __future__ import annotations

import base64
import re
import struct
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, request_started
from playwright.sync_api import Page, expect

from eventapp.checkin.models import Scan, ScanResult
from eventapp.events.models import Registration
from eventapp.extensions import db
from eventapp.invites.tickets import CONTEXT
from tests.browser.conftest import Browsing
from tests.browser.pages import log_in
from tests.conftest import Client
from tests.factories import Factory

pytestmark = [pytest.mark.browser, pytest.mark.single_db]

OFFLINE_SCANS = 20
#: What Chromium says about requests while its network is switched off.
NO_NETWORK = re.compile(r"ERR_INTERNET_DISCONNECTED")
ROSTER_CACHED = """async (eventId) => {
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open(`eventapp-gate-${eventId}`);
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  if (!db.objectStoreNames.contains("roster")) { db.close(); return 0; }
  const roster = await new Promise((resolve) => {
    const get = db.transaction("roster").objectStore("roster").get("current");
    get.onsuccess = () => resolve(get.result);
  });
  db.close();
  return roster ? roster.registrations.length : 0;
}"""


@pytest.fixture
def requests_seen(app: Flask) -> Iterator[list[str]]:
    """The paths of the requests that reached the app."""
    seen: list[str] = []

    def note(_sender: Flask, **_extra: object) -> None:
        from flask import request
        seen.append(request.path)

    request_started.connect(note, app, weak=False)
    yield seen
    request_started.disconnect(note, app)


def forged_code(event_id: int) -> str:
    header = struct.pack(">BIQ", 1, event_id, 424242)
    signature = Ed25519PrivateKey.generate().sign(CONTEXT + header)
    return base64.b32encode(header + signature).decode().rstrip("=")


def scan_by_wedge(page: Page, code: str) -> None:
    """As a USB scanner does: the characters into the focused field, then Enter."""
    field = page.locator("[data-scan-input]")
    expect(field).to_be_focused()
    page.keyboard.type(code, delay=0)
    page.keyboard.press("Enter")


def expect_result(page: Page, tone: str, title: str) -> None:
    screen = page.locator("[data-result-screen]")
    expect(screen).to_have_attribute("data-tone", tone)
    expect(screen.locator("[data-result-title]")).to_have_text(title)


def other_gate(app: Flask, make: Factory, event, point) -> Client:
    """A second tablet's steward, calling the API from this test."""
    steward = make.user(name="Second Steward")
    make.membership(event, steward, "staff")
    app.test_client_class = Client
    client = app.test_client()
    client.login(steward.email, Factory.PASSWORD)
    return client


def test_offline_scans_are_kept_and_synced_with_the_conflict_reported(
        app: Flask, make: Factory, browse: Browsing, requests_seen: list[str]) -> None:
    event = make.event(title="Gate Expo")
    north = make.point(event, name="North gate", kind="entrance")
    south = make.point(event, name="South gate", kind="entrance")
    steward = make.user(name="Tom Becker")
    make.membership(event, steward, "staff")
    people = [make.registration(event, make.contact(name=f"Guest {n:02d}"))
              for n in range(OFFLINE_SCANS + 1)]
    online_one, offline_ones = people[0], people[1:]
    used_elsewhere = offline_ones[6]
    south_gate = other_gate(app, make, event, south)

    page = browse.open("tablet", "en-US")
    log_in(page, steward.email, Factory.PASSWORD)
    page.goto(f"/events/{event.slug}/checkin")
    page.locator(f'[data-point-choice="{north.id}"]').click()
    # Online: the tablet keeps the roster and the service worker takes the page.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    wait_for(page, lambda: page.evaluate(ROSTER_CACHED, event.id) == len(people))
    scan_by_wedge(page, online_one.ticket_code)
    expect_result(page, "good", "Valid")
    expect(page.locator("[data-result-note]")).to_be_hidden()

    # The venue's network goes down. Nobody tells the tablet.
    browse.expected.append(NO_NETWORK)
    page.context.set_offline(True)
    answer = south_gate.post(f"/api/v1/events/{event.slug}/checkin/redemptions",
                             json={"code": used_elsewhere.ticket_code, "point_id": south.id,
                                   "device_id": "south-tablet",
                                   "client_scan_id": str(uuid.uuid4())},
                             headers={"X-CSRFToken": south_gate.csrf_token()})
    assert answer.get_json()["result"] == "valid"

    for person in offline_ones:
        scan_by_wedge(page, person.ticket_code)
        expect_result(page, "good", "Valid")
        expect(page.locator("[data-result-name]")).to_have_text(
            re.compile(re.escape(f"Guest {people.index(person):02d}")))
        expect(page.locator("[data-result-note]")).to_be_visible()  # checked on this tablet
    scan_by_wedge(page, forged_code(event.id))
    expect_result(page, "bad", "Forged ticket")
    scan_by_wedge(page, online_one.ticket_code)  # scanned online before: known here
    expect_result(page, "warn", "Already checked in")
    waiting = OFFLINE_SCANS + 2
    status = page.locator("[data-status-line]")
    expect(status).to_contain_text(f"Offline: {waiting} scans waiting to sync")

    # A reload with no network: the page from the service worker, the scans from IndexedDB.
    before_reload = len(requests_seen)
    page.reload()
    expect(status).to_contain_text(f"Offline: {waiting} scans waiting to sync")
    expect(page.locator("[data-scan-input]")).to_be_focused()
    assert f"/events/{event.slug}/checkin" not in requests_seen[before_reload:]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Scan)
                                 .where(Scan.offline.is_(True))) == 0

    # The network is back: the tablet syncs by itself and reports the conflict.
    page.context.set_offline(False)
    expect(page.locator("[data-gate-status]")).to_have_attribute("data-state", "online",
                                                                 timeout=15_000)
    conflicts = page.locator("[data-conflict-list] li")
    expect(conflicts).to_have_count(1, timeout=15_000)
    expect(conflicts.first).to_contain_text(f"Guest {people.index(used_elsewhere):02d}")
    expect(conflicts.first).to_contain_text("South gate")
    expect(status).to_be_hidden()

    with app.app_context():
        offline = db.session.execute(
            sa.select(Scan.registration_id, Scan.result, Scan.conflict, Scan.device_id)
            .where(Scan.offline.is_(True))).all()
        assert len(offline) == waiting
        by_person = {row.registration_id: row for row in offline if row.registration_id}
        assert {p.id for p in offline_ones} <= set(by_person)
        assert by_person[used_elsewhere.id].result == ScanResult.ALREADY_USED
        assert by_person[used_elsewhere.id].conflict is True
        assert sorted(str(row.result) for row in offline) == sorted(
            ["valid"] * (OFFLINE_SCANS - 1) + ["already_used", "already_used", "forged"])
        assert [row for row in offline if row.conflict] == [by_person[used_elsewhere.id]]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)
                                 .where(Registration.event_id == event.id,
                                        Registration.checked_in_at.is_not(None))) == len(people)


def wait_for(page: Page, condition, timeout_ms: int = 10_000) -> None:
    """Poll `condition` (a Python callable) until it holds."""
    waited = 0
    while not condition():
        assert waited < timeout_ms, "the condition never held"
        page.wait_for_timeout(200)
        waited += 200
