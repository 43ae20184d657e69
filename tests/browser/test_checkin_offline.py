"""The acceptance of the gate's offline mode (issue 13), on a tablet (Chromium, 768×1024):
the gate page loads online and keeps the roster; the browser's network is switched off; the
tablet notices by itself, and 20 tickets typed by a keyboard-wedge scanner show green from the
tablet's own check (one forged ticket red), while another gate redeems one of them through
the API; a reload with no network still shows the page (from the service worker) and its
waiting scans (from IndexedDB); back online, the tablet syncs by itself: all its scans are on
the server, marked offline, and the ticket used at two gates is reported on the page.

Also: no answer within 3 s is offline too, a 4xx is an answer, a lost sync answer is resent,
check-in by hand, exits, re-entries and the gift offline, batches of at most 500, and that the
tablet's ticket check (static/checkin/ticket-verify.js, with WebCrypto and with the vendored
noble) decides every kind of code as the server does."""

from __future__ import annotations

import base64
import re
import struct
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, request_started
from playwright.sync_api import Page, expect

from eventapp.checkin.models import CheckinPoint, Scan, ScanResult
from eventapp.events.models import Event, Membership, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.tickets import CONTEXT, InvalidTicket, verify_ticket
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


def open_gate(browse: Browsing, steward, event, point, *, roster: int) -> Page:
    """The steward's tablet on the gate page at `point`, once it is ready for the network to
    go: the roster kept in IndexedDB, the page controlled by the service worker."""
    page = browse.open("tablet", "en-US")
    log_in(page, steward.email, Factory.PASSWORD)
    page.goto(f"/events/{event.slug}/checkin")
    page.locator(f'[data-point-choice="{point.id}"]').click()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    wait_for(page, lambda: page.evaluate(ROSTER_CACHED, event.id) == roster)
    return page


def expect_installable(page: Page) -> None:
    """Chromium reads the page's manifest without errors and finds nothing against installing
    it but the test's own private window."""
    devtools = page.context.new_cdp_session(page)
    manifest = devtools.send("Page.getAppManifest")
    assert manifest["url"].endswith("/checkin/manifest.webmanifest") and not manifest["errors"]
    assert manifest["manifest"]["display"] == "kStandalone"
    problems = devtools.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert {problem["errorId"] for problem in problems} <= {"in-incognito"}


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

    page = open_gate(browse, steward, event, north, roster=len(people))
    expect_installable(page)
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


def test_no_answer_in_3_s_is_offline_a_4xx_is_an_answer_a_lost_sync_answer_is_resent(
        app: Flask, make: Factory, browse: Browsing, requests_seen: list[str]) -> None:
    event = make.event(title="Slow Expo")
    north = make.point(event, name="North gate", kind="entrance")
    steward = make.user(name="Tom Becker")
    make.membership(event, steward, "staff")
    first, second, third = (make.registration(event) for _ in range(3))
    page = open_gate(browse, steward, event, north, roster=3)
    box = page.locator("[data-gate-status]")
    status = page.locator("[data-status-line]")
    sync_path = f"/api/v1/events/{event.slug}/checkin/sync"
    roster_path = f"/api/v1/events/{event.slug}/checkin/roster"
    answered: list[str] = []  # the paths the tablet had answers for, in order
    page.on("response", lambda response: answered.append(urlsplit(response.url).path))

    # The server takes the request and never answers: after ~3 s the tablet decides alone.
    page.route("**/checkin/redemptions", lambda route: None)
    started = time.monotonic()
    scan_by_wedge(page, first.ticket_code)
    expect_result(page, "good", "Valid")
    waited = time.monotonic() - started
    expect(page.locator("[data-result-note]")).to_be_visible()
    expect(box).to_have_attribute("data-state", "offline")
    assert 2.5 <= waited < 8, waited
    page.unroute("**/checkin/redemptions")
    # The probe finds the server again and the scan is synced, nobody pressing anything.
    expect(box).to_have_attribute("data-state", "online", timeout=15_000)
    expect(status).to_be_hidden(timeout=15_000)
    with app.app_context():
        assert db.session.execute(sa.select(Scan.result, Scan.offline).where(
            Scan.registration_id == first.id)).all() == [(ScanResult.VALID, True)]
    # After a sync the tablet fetches the roster (with the points) again: let that answer
    # come before the point closes below, or the tablet would keep a roster without it.
    wait_for(page, lambda: sync_path in answered
             and roster_path in answered[answered.index(sync_path):])

    # A closed point is the server's answer (409), not a dead network: nothing waits.
    browse.expect_status(409)
    set_point_active(app, north.id, False)
    scan_by_wedge(page, second.ticket_code)
    expect_result(page, "bad", "Not scanned")
    expect(page.locator("[data-result-message]")).to_contain_text("closed")
    expect(box).to_have_attribute("data-state", "online")
    expect(status).to_be_hidden()
    set_point_active(app, north.id, True)

    # The server stores a sync but its answer is lost: the batch is sent again, and the
    # server keeps one scan.
    browse.expected += [NO_NETWORK, re.compile(r"/checkin/sync: net::ERR_FAILED"),
                        re.compile(r"net::ERR_FAILED \(\S+/checkin/sync\)")]
    page.context.set_offline(True)
    scan_by_wedge(page, third.ticket_code)
    expect_result(page, "good", "Valid")
    expect(status).to_contain_text("Offline: 1 scan waiting to sync")
    lost = []

    def lose_the_answer(route) -> None:
        if lost:
            route.continue_()
        else:
            lost.append(route.fetch())
            route.abort()

    page.route("**/checkin/sync", lose_the_answer)
    syncs_before = requests_seen.count(sync_path)
    page.context.set_offline(False)
    expect(status).to_be_hidden(timeout=20_000)
    assert [answer.status for answer in lost] == [200]
    assert requests_seen.count(sync_path) - syncs_before == 2
    with app.app_context():
        assert db.session.execute(sa.select(Scan.result, Scan.offline).where(
            Scan.registration_id == third.id)).all() == [(ScanResult.VALID, True)]


def test_by_hand_offline_and_syncing_in_batches_of_at_most_500(
        app: Flask, make: Factory, browse: Browsing) -> None:
    event = make.event(title="Busy Expo")
    with app.app_context():
        db.session.get(Event, event.id).gift = "a thermos"
        db.session.commit()
    north = make.point(event, name="North gate", kind="entrance")
    supervisor = make.user(name="Tom Becker")  # checking in by hand is a supervisor's
    make.membership(event, supervisor, "supervisor")
    guest = make.registration(event, make.contact(name="Guest by hand"))
    cancelled = make.registration(event, make.contact(name="Cancelled guest"),
                                  status=RegistrationStatus.CANCELLED)
    page = open_gate(browse, supervisor, event, north, roster=2)
    batches: list[int] = []
    page.on("request", lambda request: batches.append(len(request.post_data_json["scans"]))
            if request.url.endswith("/checkin/sync") and request.method == "POST" else None)
    browse.expected.append(NO_NETWORK)
    page.context.set_offline(True)

    seen = page.evaluate("""async ({ apiBase, eventId, pointId, guest, cancelled, many,
                                     code }) => {
      const { createGateClient } = await import("/static/checkin/gate-client.js");
      const { openGateStore } = await import("/static/checkin/offline-store.js");
      const csrfToken = document.querySelector("meta[name=csrf-token]").content;
      const client = createGateClient({ apiBase, csrfToken, eventId, deviceId: "harness",
                                        serviceWorker: false });
      await client.ready;
      const byHand = (id) => client.redeemByHand({ registration_id: id, point_id: pointId })
        .then((o) => [o.result, o.offline, o.name], (e) => [e.name, e.reason]);
      const scan = (code, direction, purpose) => client.redeem({ code, point_id: pointId,
                                                                direction, purpose })
        .then((o) => [o.result, o.offline, o.title, o.gift_due]);
      const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
      const results = [];
      for (const next of [() => byHand(guest), () => byHand(guest), () => byHand(cancelled),
                          () => byHand(987654), () => scan(code, "out", "entry"),
                          () => scan(code, "in", "entry"), () => scan(code, "in", "gift"),
                          () => scan(code, "in", "gift")]) {
        results.push(await next());
        await pause(); // one scan after the other, as at a real gate
      }
      client.stop();
      // Many more scans waiting than one request may carry.
      const store = await openGateStore(eventId);
      const start = Date.now() - many * 1000;
      for (let n = 0; n < many; n += 1) {
        await store.recordOfflineScan({ client_scan_id: `bulk-${n}`, point_id: pointId,
          scanned_at: new Date(start + n * 1000).toISOString(), direction: "in",
          purpose: "entry", device_admitted: false, code: `NOT-A-TICKET-${n}` }, null);
      }
      store.close();
      return results;
    }""", {"apiBase": f"/api/v1/events/{event.slug}/checkin", "eventId": event.id,
           "pointId": north.id, "guest": guest.id, "cancelled": cancelled.id, "many": 1001,
           "code": guest.ticket_code})

    assert seen == [["valid", True, "Guest by hand"], ["already_used", True, "Guest by hand"],
                    ["cancelled", True, "Cancelled guest"],
                    ["GateOfflineError", "unknown_registration"],
                    ["exit", True, "Exit recorded", False],
                    ["reentry", True, "Welcome back", True],
                    ["valid", True, "Hand out the gift", False],
                    ["already_used", True, "Gift already given", False]]
    page.context.set_offline(False)
    wait_for(page, lambda: count_offline_scans(app, event.id) == 1001 + 7, timeout_ms=30_000)
    assert max(batches) == 500 and len(batches) >= 3
    expect(page.locator("[data-status-line]")).to_be_hidden(timeout=15_000)
    with app.app_context():
        # The server, applying its rules to the synced scans, decided as the tablet did.
        stored = db.session.execute(
            sa.select(Scan.result, Scan.scope, Scan.manual, Scan.conflict)
            .where(Scan.registration_id == guest.id).order_by(Scan.scanned_at)).all()
        assert [tuple(row) for row in stored] == [
            ("valid", "venue", True, False), ("already_used", "venue", True, False),
            ("exit", "venue", False, False), ("reentry", "venue", False, False),
            ("valid", "gift", False, False), ("already_used", "gift", False, False)]


def test_a_refused_sync_keeps_the_scans_and_says_why(app: Flask, make: Factory,
                                                     browse: Browsing) -> None:
    event = make.event(title="Strict Expo")
    north = make.point(event, name="North gate", kind="entrance")
    steward = make.user(name="Tom Becker")
    membership = make.membership(event, steward, "staff")
    guest = make.registration(event)
    page = open_gate(browse, steward, event, north, roster=1)
    browse.expected.append(NO_NETWORK)
    browse.expect_status(403)
    page.context.set_offline(True)
    scan_by_wedge(page, guest.ticket_code)
    expect_result(page, "good", "Valid")
    with app.app_context():  # taken off the team while the tablet was offline
        db.session.delete(db.session.get(Membership, membership.id))
        db.session.commit()
    page.context.set_offline(False)

    refused = page.evaluate("""async ({ apiBase, eventId }) => {
      const { createGateClient } = await import("/static/checkin/gate-client.js");
      const csrfToken = document.querySelector("meta[name=csrf-token]").content;
      const client = createGateClient({ apiBase, csrfToken, eventId, serviceWorker: false });
      await client.ready;
      let status = null;
      client.onStatus((now) => { status = now; });
      const error = await client.syncNow().then(() => null, (e) => [e.name, e.status]);
      client.stop();
      return { error, pending: status.pending, syncError: status.syncError };
    }""", {"apiBase": f"/api/v1/events/{event.slug}/checkin", "eventId": event.id})

    assert refused["error"] == ["GateApiError", 403]
    assert refused["pending"] == 1 and refused["syncError"]
    assert count_offline_scans(app, event.id) == 0
    make.membership(event, steward, "staff")  # back on the team: the scan goes through
    synced = page.evaluate("""async ({ apiBase, eventId }) => {
      const { createGateClient } = await import("/static/checkin/gate-client.js");
      const csrfToken = document.querySelector("meta[name=csrf-token]").content;
      const client = createGateClient({ apiBase, csrfToken, eventId, serviceWorker: false });
      await client.ready;
      let status = null;
      client.onStatus((now) => { status = now; });
      const summary = await client.syncNow();
      client.stop();
      return { summary, syncError: status.syncError };
    }""", {"apiBase": f"/api/v1/events/{event.slug}/checkin", "eventId": event.id})
    assert synced["summary"]["pending"] == 0 and synced["syncError"] is None
    assert count_offline_scans(app, event.id) == 1


def set_point_active(app: Flask, point_id: int, active: bool) -> None:
    with app.app_context():
        db.session.get(CheckinPoint, point_id).active = active
        db.session.commit()


def count_offline_scans(app: Flask, event_id: int) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Scan).where(
            Scan.event_id == event_id, Scan.offline.is_(True)))


# --- the tablet's ticket check agrees with the server's ----------------------------------

def _payload(header: bytes, signature: bytes) -> str:
    return base64.b32encode(header + signature).decode().rstrip("=")


def _flip(code: str, index: int) -> str:
    """The code with one base32 character changed, still canonical."""
    raw = bytearray(base64.b32decode(code + "=" * (-len(code) % 8)))
    raw[index] ^= 0x01
    return base64.b32encode(bytes(raw)).decode().rstrip("=")


def _codes(make, event) -> dict[str, str]:
    genuine = make.registration(event).ticket_code
    other = make.event()
    stranger = Ed25519PrivateKey.generate()
    header = struct.pack(">BIQ", 1, event.id, 987654321)
    v2_header = struct.pack(">BIQ", 2, event.id, 987654321)
    last = genuine[-1]
    non_canonical = genuine[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".index(last) + 1) % 32]
    return {
        "genuine": genuine,
        "genuine, typed in lower case": genuine.lower(),
        "genuine, with the scanner's spaces": f"  {genuine}\t\n",
        "genuine, junk after 130 characters": genuine + " " * 10 + "JUNK",
        "another genuine ticket": make.registration(event).ticket_code,
        "forged: signed with another key": _payload(header, stranger.sign(CONTEXT + header)),
        "tampered serial": _flip(genuine, 9),
        "tampered event id": _flip(genuine, 3),
        "tampered signature": _flip(genuine, 40),
        "signature of zeros": _payload(header, bytes(64)),
        "another event's genuine ticket": make.registration(other).ticket_code,
        "version 2": _payload(v2_header, stranger.sign(CONTEXT + v2_header)),
        "non-canonical last character": non_canonical,
        "cut short": genuine[:-1],
        "one character too many": genuine + "A",
        "not base32": genuine[:-2] + "18",
        "a web address": "https://example.com/t/abcdef",
        "empty": "",
    }


def _server_says(code: str, event) -> dict:
    """What the server decides: redeem_code()'s cut, then verify_ticket()."""
    try:
        claim = verify_ticket(code.strip()[:130], event.id, event.ticket_public_key)
    except InvalidTicket as error:
        return {"result": str(error.problem)}
    return {"result": "valid", "serial": str(claim.serial)}


def test_the_tablet_decides_every_code_as_the_server_does(app, make, event, browse):
    codes = _codes(make, event)
    expected = {name: _server_says(code, event) for name, code in codes.items()}
    page = browse.open("tablet", "en-US")
    page.goto("/login")

    seen = page.evaluate("""async ({ codes, eventId, publicKey }) => {
      const { verifyTicket, scannedCode, verifier } =
        await import("/static/checkin/ticket-verify.js");
      const out = { chosen: (await verifier()).name };
      for (const engine of ["webcrypto", "noble"]) {
        out[engine] = {};
        for (const [name, code] of Object.entries(codes)) {
          const check = await verifyTicket(scannedCode(code), { eventId, publicKey }, { engine });
          out[engine][name] = check.result === "valid"
            ? { result: "valid", serial: check.serial } : { result: check.result };
        }
      }
      return out;
    }""", {"codes": codes, "eventId": event.id,
           "publicKey": base64.b64encode(event.ticket_public_key).decode()})

    assert seen["chosen"] == "webcrypto"  # this Chromium has Ed25519 in WebCrypto
    assert seen["webcrypto"] == expected
    assert seen["noble"] == expected
    # the cases are what their names say
    assert expected["genuine, junk after 130 characters"]["result"] == "valid"
    for name in ("forged: signed with another key", "tampered serial", "tampered signature",
                 "signature of zeros"):
        assert expected[name] == {"result": "forged"}, name
    assert expected["tampered event id"] == {"result": "other_event"}
    assert expected["another event's genuine ticket"] == {"result": "other_event"}
    assert expected["non-canonical last character"] == {"result": "malformed"}


def test_without_webcrypto_ed25519_the_tablet_uses_noble(app, make, event,
                                                         browse):
    genuine = make.registration(event).ticket_code
    forged = _flip(genuine, 40)
    page = browse.open("tablet", "en-US")
    # A browser whose WebCrypto has no Ed25519 (older Safari and Firefox).
    page.add_init_script("""(() => {
      const importKey = crypto.subtle.importKey.bind(crypto.subtle);
      crypto.subtle.importKey = (format, key, algorithm, ...rest) =>
        (algorithm && (algorithm === "Ed25519" || algorithm.name === "Ed25519"))
          ? Promise.reject(new DOMException("Unrecognized name", "NotSupportedError"))
          : importKey(format, key, algorithm, ...rest);
    })();""")
    page.goto("/login")

    seen = page.evaluate("""async ({ codes, eventId, publicKey }) => {
      const { verifyTicket, verifier } = await import("/static/checkin/ticket-verify.js");
      const results = [];
      for (const code of codes) results.push(await verifyTicket(code, { eventId, publicKey }));
      return { chosen: (await verifier()).name, results };
    }""", {"codes": [genuine, forged], "eventId": event.id,
           "publicKey": base64.b64encode(event.ticket_public_key).decode()})

    assert seen["chosen"] == "noble"
    assert [(r["result"], r["engine"]) for r in seen["results"]] == [
        ("valid", "noble"), ("forged", "noble")]


PENDING_ON_TABLET = """async (eventId) => {
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open(`eventapp-gate-${eventId}`);
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  const count = await new Promise((resolve) => {
    const request = db.transaction("pending").objectStore("pending").count();
    request.onsuccess = () => resolve(request.result);
  });
  db.close();
  return count;
}"""
KEPT_ON_TABLET = """async (eventId) => ({
  databases: (await indexedDB.databases()).map((d) => d.name)
    .filter((name) => name === `eventapp-gate-${eventId}`).length,
  caches: (await caches.keys()).filter((name) => name.startsWith("eventapp-gate:")).length,
})"""


def test_logging_out_wipes_the_guest_list_unless_scans_wait(app: Flask, make: Factory,
                                                           browse: Browsing) -> None:
    event = make.event(title="Private Expo")
    north = make.point(event, name="North gate", kind="entrance")
    steward = make.user(name="Lin Steward")
    make.membership(event, steward, "staff")
    guest = make.registration(event, make.contact(name="Kept Offline"))

    # A scan waits (offline): logging out asks, and "no" keeps the tablet as it is.
    page = open_gate(browse, steward, event, north, roster=1)
    browse.expected.append(NO_NETWORK)
    page.context.set_offline(True)
    scan_by_wedge(page, guest.ticket_code)
    expect_result(page, "good", "Valid")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Log out").click()
    wait_for(page, lambda: bool(asked))
    assert "1 scans made offline are not synced yet" in asked[0]
    assert page.evaluate(KEPT_ON_TABLET, event.id) == {"databases": 1, "caches": 1}
    expect(page).to_have_url(re.compile(r"/checkin$"))

    # Synced: logging out wipes the roster, the scans and the cached page.
    page.context.set_offline(False)
    wait_for(page, lambda: count_offline_scans(app, event.id) == 1)
    wait_for(page, lambda: page.evaluate(PENDING_ON_TABLET, event.id) == 0)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login"))
    assert page.evaluate(KEPT_ON_TABLET, event.id) == {"databases": 0, "caches": 0}
