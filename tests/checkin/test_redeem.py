"""Redeeming tickets through the gate API: each result the tablet shows, the once-only rule per
scope (venue, gift, a session room), re-entry after an exit, replays of the same scan, and
that every scan is stored with its point, device and staff member and logged as behaviour."""

from __future__ import annotations

import base64
import struct
import threading
import uuid

import pytest
import sqlalchemy as sa

from eventapp.auth.models import User
from eventapp.checkin.models import CheckinPoint, Scan, ScanResult
from eventapp.checkin.redeem import ScanOutcome, ScanRequest, redeem_code
from eventapp.core.activity import Activity, ActivityKind, activity_recorded
from eventapp.events.models import Event, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.tickets import new_key_pair, sign_ticket


def scan(client, event, point, code, **extra):
    body = {"code": code, "point_id": point.id, "device_id": "tablet-1",
            "client_scan_id": str(uuid.uuid4()), **extra}
    response = client.post(f"/api/v1/events/{event.slug}/checkin/redemptions", json=body,
                           headers={"X-CSRFToken": client.csrf_token()})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def gate(make, event):
    return make.point(event, name="North gate", kind="entrance", hall="Hall 1")


def test_a_valid_ticket_is_let_in_once_and_recorded(app, make, event, gate, staff_client):
    contact = make.contact(name="王小明", company="华东精密")
    registration = make.registration(event, contact)

    first = scan(staff_client, event, gate, registration.ticket_code)
    again = scan(staff_client, event, gate, registration.ticket_code)

    assert first["result"] == "valid" and first["admitted"] is True
    assert (first["name"], first["company"]) == ("王小明", "华东精密")
    assert first["title"] == "Valid"
    assert again["result"] == "already_used" and again["admitted"] is False
    assert again["first"]["point"] == "North gate"
    assert again["first"]["staff"] == staff_client.user.name
    assert again["first"]["scan_id"] == first["scan_id"]
    with app.app_context():
        stored = db.session.get(Scan, first["scan_id"])
        assert (stored.point_id, stored.device_id, stored.staff_user_id, stored.scope) == (
            gate.id, "tablet-1", staff_client.user.id, "venue")
        assert db.session.get(Registration, registration.id).checked_in_at is not None
        kinds = db.session.scalars(sa.select(Activity.kind).where(
            Activity.contact_id == contact.id)).all()
        assert kinds == [ActivityKind.CHECKIN]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Scan)) == 2


def test_one_arrival_for_the_venue_whichever_entrance(make, event, gate, staff_client):
    south = make.point(event, name="South gate", kind="entrance")
    registration = make.registration(event)

    assert scan(staff_client, event, gate, registration.ticket_code)["result"] == "valid"
    other_gate = scan(staff_client, event, south, registration.ticket_code)

    assert other_gate["result"] == "already_used"
    assert other_gate["first"]["point"] == "North gate"


def test_a_session_room_counts_each_person_once_of_its_own(make, event, gate, staff_client):
    room = make.point(event, name="Main stage", kind="session", hall="Hall 1")
    booth = make.point(event, name="Stand A12", kind="booth", hall="Hall 2")
    registration = make.registration(event)

    results = [scan(staff_client, event, point, registration.ticket_code)["result"]
               for point in (gate, room, booth, room)]

    assert results == ["valid", "valid", "valid", "already_used"]


def test_an_exit_then_a_reentry(make, event, gate, staff_client):
    registration = make.registration(event)

    results = [scan(staff_client, event, gate, registration.ticket_code, direction=d)["result"]
               for d in ("in", "out", "in", "in")]

    assert results == ["valid", "exit", "reentry", "already_used"]


@pytest.mark.parametrize("status, result", [(RegistrationStatus.CANCELLED, "cancelled"),
                                            (RegistrationStatus.WAITLISTED, "waitlisted")])
def test_an_unconfirmed_booking_is_refused(make, event, gate, staff_client, status, result):
    registration = make.registration(event, status=status)

    answer = scan(staff_client, event, gate, registration.ticket_code)

    assert answer["result"] == result and answer["admitted"] is False
    assert answer["name"], "the gate shows whose booking it was"


def test_forged_other_event_unknown_and_junk_are_refused_with_the_reason(
        app, make, event, gate, staff_client):
    registration = make.registration(event)
    other = make.event()
    other_ticket = make.registration(other).ticket_code
    code = registration.ticket_code
    tampered = code[:20] + ("A" if code[20] != "A" else "B") + code[21:]
    with app.app_context():
        _public, stranger_key = new_key_pair()
        forged = sign_ticket(event.id, registration.ticket_serial, stranger_key)
        unknown = sign_ticket(event.id, 12345, db.session.get(
            type(event), event.id).ticket_private_key)

    answers = {name: scan(staff_client, event, gate, value) for name, value in (
        ("tampered", tampered), ("forged", forged), ("other", other_ticket),
        ("unknown", unknown), ("junk", "https://example.com/?x=1"), ("empty", ""))}

    assert {name: a["result"] for name, a in answers.items()} == {
        "tampered": "forged", "forged": "forged", "other": "other_event",
        "unknown": "unknown", "junk": "malformed", "empty": "malformed"}
    assert all(not a["admitted"] for a in answers.values())
    assert answers["forged"]["title"] == "Forged ticket"
    with app.app_context():
        assert db.session.get(Registration, registration.id).checked_in_at is None
        stored = db.session.scalars(sa.select(Scan.result)).all()
        assert len(stored) == 6, "refused scans are in the audit log too"


def test_a_code_claiming_a_serial_too_large_for_the_database_is_refused_as_forged(
        make, event, gate, staff_client):
    """The holder is looked up with the serial a code claims before its signature is
    checked (in the query of who asks): a serial beyond BIGINT is not looked up at all."""
    header = struct.pack(">BIQ", 1, event.id, 2**64 - 1)
    code = base64.b32encode(header + bytes(64)).decode().rstrip("=")

    assert scan(staff_client, event, gate, code)["result"] == "forged"


@pytest.mark.parametrize("point_id", ["as text", "as a float"])
def test_a_point_id_not_sent_as_a_whole_number_is_still_read_right(app, make, event, gate,
                                                                    staff_client, point_id):
    """What was read beside who asks is used only for the point and serial the view trusts;
    a point id the early read could not take ("3", 3.0) is read again by the view."""
    registration = make.registration(event)
    sent = str(gate.id) if point_id == "as text" else float(gate.id)

    executed, _seen, response, _engine = _statements_of_a_scan(
        app, event, staff_client, registration.ticket_code, sent)

    assert response.get_json()["result"] == "valid"
    reads = [s for s, _parameters in executed if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 2, reads


@pytest.mark.parametrize("body", [[1, 2], "text", None, {"code": 7, "point_id": None}])
def test_a_scan_body_that_is_not_a_scan_is_refused(event, gate, staff_client, body):
    response = staff_client.post(f"/api/v1/events/{event.slug}/checkin/redemptions",
                                 json=body, headers={"X-CSRFToken": staff_client.csrf_token()})

    assert response.status_code == 422


DEEP = "[" * 200_000 + "]" * 200_000


def test_a_body_nested_too_deep_is_invalid_json_not_an_error(event, gate, staff_client):
    response = staff_client.post(f"/api/v1/events/{event.slug}/checkin/redemptions",
                                 data=DEEP, content_type="application/json",
                                 headers={"X-CSRFToken": staff_client.csrf_token()})

    assert response.status_code == 400
    assert response.get_json()["error"]["details"] == {"json": ["Invalid JSON body."]}


@pytest.mark.parametrize("body", [DEEP, '{"code": "' + "A" * 40_000 + '", "point_id": 1}',
                                  "not json"])
def test_a_scan_with_a_wrong_token_is_401_whatever_its_body(app, event, gate, body):
    """The point and holder are read beside who asks, from the body, before the token is
    known to be good: a body that is huge, too deep or not JSON changes nothing of that."""
    response = app.test_client().post(
        f"/api/v1/events/{event.slug}/checkin/redemptions", data=body,
        content_type="application/json", headers={"Authorization": "Bearer ea_" + "x" * 40})

    assert response.status_code == 401


def test_a_point_of_another_event_is_not_found(make, event, gate, staff_client):
    """What is read beside who asks is of the URL's event: another event's point (and the
    same serial in another event) is not this event's."""
    registration = make.registration(event)
    elsewhere = make.point(make.event(), name="Other gate", kind="entrance")

    response = staff_client.post(
        f"/api/v1/events/{event.slug}/checkin/redemptions",
        json={"code": registration.ticket_code, "point_id": elsewhere.id},
        headers={"X-CSRFToken": staff_client.csrf_token()})

    assert response.status_code == 404


def test_the_same_scan_sent_twice_is_stored_once(app, make, event, gate, staff_client):
    registration = make.registration(event)
    scan_id = str(uuid.uuid4())

    first = scan(staff_client, event, gate, registration.ticket_code, client_scan_id=scan_id)
    retried = scan(staff_client, event, gate, registration.ticket_code, client_scan_id=scan_id)

    assert first["result"] == retried["result"] == "valid"
    assert retried["replayed"] is True and retried["scan_id"] == first["scan_id"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Scan)) == 1


@pytest.mark.parametrize("before", [("in",), ("in", "out")])
def test_a_repeat_sent_again_is_answered_as_stored(app, make, event, gate, staff_client,
                                                  before):
    """A ticket already used (or a re-entry) whose scan is sent again with the same client
    scan id gets the stored answer, replayed, and is stored once."""
    registration = make.registration(event)
    earlier = [scan(staff_client, event, gate, registration.ticket_code, direction=d)
               for d in before]
    scan_id = str(uuid.uuid4())

    repeat = scan(staff_client, event, gate, registration.ticket_code, client_scan_id=scan_id)
    resent = scan(staff_client, event, gate, registration.ticket_code, client_scan_id=scan_id)

    wanted = "already_used" if len(before) == 1 else "reentry"
    assert wanted == "reentry" or earlier[-1]["result"] == "valid"
    assert repeat["result"] == resent["result"] == wanted
    assert resent["replayed"] is True and resent["scan_id"] == repeat["scan_id"]
    assert repeat.get("replayed") is False
    if wanted == "already_used":
        assert resent["first"] == repeat["first"]
        assert resent["first"]["scan_id"] == earlier[0]["scan_id"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Scan)) == \
            len(before) + 1


def test_an_undone_scan_sent_again_gets_its_stored_answer(app, make, event, gate,
                                                          staff_client, supervisor_client):
    """A tablet resending a scan a supervisor has since undone gets the answer it had, as
    a replay; nothing more is stored, and the ticket may still enter."""
    registration = make.registration(event)
    scan_id = str(uuid.uuid4())
    first = scan(staff_client, event, gate, registration.ticket_code, client_scan_id=scan_id)
    undone = supervisor_client.post(
        f"/api/v1/events/{event.slug}/checkin/scans/{first['scan_id']}/undo", json={},
        headers={"X-CSRFToken": supervisor_client.csrf_token()})
    assert undone.status_code == 200

    resent = scan(staff_client, event, gate, registration.ticket_code, client_scan_id=scan_id)

    assert (resent["result"], resent["replayed"], resent["scan_id"]) == (
        "valid", True, first["scan_id"])
    with app.app_context():
        stored = db.session.scalars(sa.select(Scan.result).order_by(Scan.id)).all()
    assert stored == [ScanResult.VALID, ScanResult.UNDO]
    assert scan(staff_client, event, gate, registration.ticket_code)["result"] == "valid"


def test_the_gift_is_handed_out_once(app, make, event, gate, staff_client):
    with app.app_context():
        db.session.get(type(event), event.id).gift = "Tote bag"
        db.session.commit()
    desk = make.point(event, name="Gift desk", kind="gift_desk")
    registration = make.registration(event)

    entry = scan(staff_client, event, gate, registration.ticket_code)
    from_gate = scan(staff_client, event, gate, registration.ticket_code, purpose="gift")
    at_desk = scan(staff_client, event, desk, registration.ticket_code)

    assert entry["gift_due"] is True and entry["gift"] == "Tote bag"
    assert from_gate["result"] == "valid" and from_gate["title"] == "Hand out the gift"
    assert at_desk["result"] == "already_used" and at_desk["title"] == "Gift already given"
    with app.app_context():
        assert db.session.get(Registration, registration.id).gift_given_at is not None
        kinds = db.session.scalars(sa.select(Activity.kind).order_by(Activity.id)).all()
        assert kinds == [ActivityKind.CHECKIN, ActivityKind.GIFT]


@pytest.mark.parametrize("ticket", ["genuine", "junk"])
def test_a_closed_or_foreign_point_is_an_error_not_a_scan(app, make, event, staff_client,
                                                          ticket):
    closed = make.point(event, active=False)
    foreign = make.point(make.event())
    registration = make.registration(event)
    code = registration.ticket_code if ticket == "genuine" else "https://example.com/?x=1"
    headers = {"X-CSRFToken": staff_client.csrf_token()}
    url = f"/api/v1/events/{event.slug}/checkin/redemptions"

    shut = staff_client.post(url, json={"code": code, "point_id": closed.id}, headers=headers)
    elsewhere = staff_client.post(url, json={"code": code, "point_id": foreign.id},
                                  headers=headers)

    assert shut.status_code == 409
    assert "closed" in shut.get_json()["error"]["message"]
    assert elsewhere.status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Scan)) == 0


def test_undo_by_a_supervisor_lets_the_ticket_in_again(app, make, event, gate, staff_client,
                                                       client):
    supervisor = make.user()
    make.membership(event, supervisor, "supervisor")
    client.login(supervisor.email, make.PASSWORD)
    registration = make.registration(event)
    first = scan(staff_client, event, gate, registration.ticket_code)
    headers = {"X-CSRFToken": client.csrf_token()}
    url = f"/api/v1/events/{event.slug}/checkin/scans/{first['scan_id']}/undo"

    by_steward = staff_client.post(url, json={},
                                   headers={"X-CSRFToken": staff_client.csrf_token()})
    undone = client.post(url, json={"device_id": "tablet-9"}, headers=headers)
    twice = client.post(url, json={}, headers=headers)
    again = scan(staff_client, event, gate, registration.ticket_code)

    assert by_steward.status_code == 403
    assert undone.status_code == 200 and undone.get_json()["result"] == "undo"
    assert twice.status_code == 409
    assert again["result"] == "valid"
    with app.app_context():
        original = db.session.get(Scan, first["scan_id"])
        undo_row = db.session.get(Scan, undone.get_json()["scan_id"])
        assert original.undone_at is not None
        assert (undo_row.undoes_scan_id, undo_row.staff_user_id) == (original.id, supervisor.id)
        kinds = db.session.scalars(sa.select(Activity.kind).order_by(Activity.id)).all()
        assert kinds == [ActivityKind.CHECKIN, ActivityKind.CHECKIN_UNDONE, ActivityKind.CHECKIN]


def test_a_scan_at_an_event_without_a_ticket_key_is_refused_not_an_error(app, make,
                                                                        staff_client):
    event = make.event()  # made directly: no key pair yet, so no ticket can be genuine
    gate = make.point(event)
    make.membership(event, staff_client.user, "staff")
    with app.app_context():
        _public, someone_elses_key = new_key_pair()
        claims_this_event = sign_ticket(event.id, 4242, someone_elses_key)

    answer = scan(staff_client, event, gate, claims_this_event)

    assert answer["result"] == "forged"


def _statements_of_a_scan(app, event, client, code, point_id, **extra):
    """What a scan through the API runs: (statement, parameters) of each statement, the
    driver's connection each ran on with its autocommit mode then (psycopg's; None on
    SQLite), the answer, and the engine."""
    executed: list[tuple[str, object]] = []
    connections: list = []

    def note(conn, _cursor, statement, parameters, *_args):
        executed.append((statement, parameters))
        driver = conn.connection.driver_connection
        connections.append((driver, getattr(driver, "autocommit", None)))

    with app.app_context():
        engine = db.engine
    csrf = client.csrf_token()
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        response = client.post(f"/api/v1/events/{event.slug}/checkin/redemptions",
                               json={"code": code, "point_id": point_id, **extra},
                               headers={"X-CSRFToken": csrf})
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    return executed, connections, response, engine


def _statements_of_a_redemption(app, event, gate, client, registration):
    """`_statements_of_a_scan` of a first scan, checked to be valid; without the answer."""
    executed, connections, response, engine = _statements_of_a_scan(
        app, event, client, registration.ticket_code, gate.id)
    assert response.get_json()["result"] == "valid"
    return executed, connections, engine


def test_a_redemption_reads_before_it_takes_the_write_lock(app, make, event, gate,
                                                          staff_client):
    """The hot path: who asks, the event, their role on it, the point and the ticket's
    registration are read first, in one query; SQLite's write lock is taken only for the
    scan, the arrival and the activity. On PostgreSQL those three are one statement, run in
    autocommit mode: no BEGIN and COMMIT round trips."""
    registration = make.registration(event)
    executed, connections, engine = _statements_of_a_redemption(app, event, gate, staff_client,
                                                                registration)
    statements = [statement.split()[0].upper() + (
        " IMMEDIATE" if statement.upper().startswith("BEGIN IMMEDIATE") else "")
        for statement, _parameters in executed]
    work = [s for s in statements if s not in ("BEGIN", "BEGIN IMMEDIATE")]
    # PostgreSQL: the scan, the arrival and the activity are one statement (CTEs).
    writes = ["WITH"] if engine.dialect.name == "postgresql" else ["INSERT", "UPDATE", "INSERT"]
    assert work == ["SELECT"] + writes, statements
    if engine.dialect.name == "sqlite":
        immediate = statements.index("BEGIN IMMEDIATE")
        assert statements[0] == "BEGIN", "the reads run in a read transaction"
        assert statements[immediate + 1:] == ["INSERT", "UPDATE", "INSERT"]
    else:
        assert [autocommit for _connection, autocommit in connections] == [True] * 2
        [connection] = {driver for driver, _autocommit in connections}
        assert connection.autocommit is False, "back in the pool, it is back to transactions"


def test_a_refused_redemption_leaves_its_connection_to_transactions(app, make, event, gate,
                                                                    staff_client, db_backend):
    """A redemption answered with an error (an unknown point) gives its connection back to
    the pool as it found it: the next request on it runs in a transaction again."""
    registration = make.registration(event)
    _executed, seen, response, _engine = _statements_of_a_scan(
        app, event, staff_client, registration.ticket_code, gate.id + 1000)
    assert response.status_code == 404
    assert seen, "the request read the database"
    if db_backend == "postgresql":
        assert all(driver.autocommit is False for driver, _autocommit in seen)


def test_a_ticket_used_before_is_read_once_more_and_recorded(app, make, event, gate,
                                                             staff_client):
    """A re-scan: the query of who asks with the point and holder, the valid scan the unique
    index refuses, one read of the person's entries and exits (which also finds the same
    scan sent again) and the scan's record."""
    registration = make.registration(event)
    scan(staff_client, event, gate, registration.ticket_code)

    executed, _connections, response, engine = _statements_of_a_scan(
        app, event, staff_client, registration.ticket_code, gate.id,
        client_scan_id=str(uuid.uuid4()))

    assert response.get_json()["result"] == "already_used"
    work = [statement.split()[0].upper() for statement, _parameters in executed
            if statement.split()[0].upper() not in ("BEGIN", "COMMIT")]
    admit = "WITH" if engine.dialect.name == "postgresql" else "INSERT"
    assert work == ["SELECT", admit, "SELECT", "INSERT"], work


def test_a_token_redemption_reads_who_asks_with_the_event(app, make, event, gate):
    """An API token's scan reads the token's owner, the event, the owner's role on it, the
    point and the ticket's registration in one query, as the browser session's does."""
    from eventapp.auth.models import User
    from eventapp.auth.services import issue_api_token

    registration = make.registration(event)
    staff = make.user()
    make.membership(event, staff, "staff")
    with app.app_context():
        plain, _token = issue_api_token(db.session.get(User, staff.id), "gate")
        db.session.commit()
        engine = db.engine
    executed: list[str] = []
    note = lambda _conn, _cursor, statement, *_args: executed.append(statement)  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        response = app.test_client().post(
            f"/api/v1/events/{event.slug}/checkin/redemptions",
            json={"code": registration.ticket_code, "point_id": gate.id},
            headers={"Authorization": f"Bearer {plain}"})
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    assert response.status_code == 200 and response.get_json()["result"] == "valid"
    reads = [s for s in executed if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1, reads
    assert all(f" {table} " in reads[0] for table in (
        "api_tokens", "memberships", "checkin_points", "registrations", "contacts")), reads
    # Of the event, only what a scan reads: not its long texts and JSON, sent and parsed
    # on every scan for nothing.
    assert "events.ticket_public_key" in reads[0] and "events.gift" in reads[0]
    for column in ("description", "agenda", "booking_form", "venue_help", "privacy_text",
                   "ticket_private_key"):
        assert f"events.{column}" not in reads[0], column
    # Of who asks, only what the checks of who asks read: not the password hash and the rest.
    assert all(f"users.{column}" in reads[0]
               for column in ("id", "active", "is_admin", "locale", "session_token")), reads
    assert "api_tokens.last_used_at" in reads[0]
    for column in ("users.password_hash", "users.email", "users.name", "users.last_login_at",
                   "api_tokens.token_hash", "api_tokens.prefix", "api_tokens.name"):
        assert f"{column} AS" not in reads[0] and f"{column}," not in reads[0], column


@pytest.mark.parametrize("column", ["event.title", "user.email"])
def test_a_column_a_scan_does_not_name_cannot_be_read_by_it(
        app, make, event, gate, staff_client, monkeypatch, column):
    """The redemption loads only the event's columns it names, and of who asks only what the
    checks of who asks read; reading another raises at once (so a change that reads one
    fails its tests), instead of costing every scan a query of its own."""
    from flask_login import current_user
    from sqlalchemy.exc import InvalidRequestError

    from eventapp.checkin import api as checkin_api

    registration = make.registration(event)
    raised = []
    original = checkin_api.outcome_body
    owner, name = column.split(".")

    def outcome_body(scanned_event, outcome):
        assert current_user.locale is None and current_user.is_admin is False
        try:
            getattr(scanned_event if owner == "event" else current_user, name)
        except InvalidRequestError as error:
            raised.append(error)
        return original(scanned_event, outcome)

    monkeypatch.setattr(checkin_api, "outcome_body", outcome_body)
    _statements_of_a_redemption(app, event, gate, staff_client, registration)
    assert len(raised) == 1 and name in str(raised[0])


def test_the_gate_answers_each_reader_in_their_language(app, make, event, gate):
    """The result's words are translated once per language and kept: a Chinese reader's
    scan and an English reader's, one after the other, each get their own."""
    from tests.conftest import Client
    from tests.factories import Factory

    answers = {}
    for locale in ("zh_CN", "en", "zh_CN"):
        user = make.user(locale=locale)
        make.membership(event, user, "staff")
        app.test_client_class = Client
        client = app.test_client()
        client.login(user.email, Factory.PASSWORD)
        code = make.registration(event).ticket_code
        answers.setdefault(locale, []).append(scan(client, event, gate, code)["title"])
    assert answers == {"zh_CN": ["有效", "有效"], "en": ["Valid"]}


def test_a_read_beside_naming_no_event_column_fails_at_once():
    from eventapp.checkin.redeem import POINT_AND_HOLDER
    from eventapp.events.access import ReadBeside

    with pytest.raises(AttributeError):
        ReadBeside(POINT_AND_HOLDER.join, POINT_AND_HOLDER.parameters,
                   event_columns=("slug", "giftt"))
    with pytest.raises(AttributeError):
        ReadBeside(POINT_AND_HOLDER.join, POINT_AND_HOLDER.parameters,
                   user_columns=("nmae",))

def test_the_hot_paths_reads_use_indexes_not_scans(app, make, event, gate, staff_client,
                                                   db_backend):
    """Each read of a redemption finds its rows through an index: a full scan (of every
    registration, say) is fast in a test and slow at a gate of 5,000 people. On PostgreSQL,
    whose planner rightly scans tables this small, sequential scans are priced out first
    (enable_seqscan off): a plan that still scans has no index to use."""
    for _ in range(30):
        make.registration(event)
    registration = make.registration(event)
    executed, _connections, _engine = _statements_of_a_redemption(app, event, gate,
                                                                  staff_client, registration)
    reads = [(statement, parameters) for statement, parameters in executed
             if statement.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1, reads  # who asks, the event, their role, point and holder
    with app.app_context():
        cursor = db.session.connection().connection.dbapi_connection.cursor()
        if db_backend == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
        explain = "EXPLAIN QUERY PLAN" if db_backend == "sqlite" else "EXPLAIN"
        for statement, parameters in reads:
            cursor.execute(f"{explain} {statement}", parameters)
            plan = [str(step[-1]) for step in cursor.fetchall()]
            scans = [step for step in plan if step.startswith("SCAN") or "Seq Scan" in step]
            assert not scans, f"{statement}\n{plan}"
        db.session.rollback()


def test_a_first_scan_writes_its_arrival_and_activity_and_a_racing_one_neither(
        app, make, event, gate):
    """The valid scan, the arrival time and the CHECKIN activity go in together (one
    statement on PostgreSQL), and the signal tells of the activity as stored; a second gate
    redeeming the same ticket meanwhile waits, then stores its scan as already used and
    changes neither the arrival nor the behaviour log."""
    channel = make.channel(event)
    registration = make.registration(event, channel=channel)
    staff = make.user()
    heard: list[Activity] = []
    second: list[ScanOutcome] = []

    def redeem(device: str) -> ScanOutcome:
        outcome = redeem_code(db.session.get(Event, event.id),
                              db.session.get(CheckinPoint, gate.id),
                              db.session.get(User, staff.id), registration.ticket_code,
                              ScanRequest(point_id=gate.id, device_id=device,
                                          client_scan_id=str(uuid.uuid4())))
        db.session.flush()
        return outcome

    def other_gate() -> None:  # if it fails, `second` stays empty
        with app.app_context():
            second.append(redeem("tablet-2"))
            db.session.commit()

    with activity_recorded.connected_to(heard.append), app.app_context():
        first = redeem("tablet-1")
        racer = threading.Thread(target=other_gate)
        racer.start()
        racer.join(timeout=1)
        assert racer.is_alive(), "the second gate waits for the first one's transaction"
        db.session.commit()
        racer.join(timeout=30)

    assert first.result == ScanResult.VALID
    assert [outcome.result for outcome in second] == [ScanResult.ALREADY_USED]
    with app.app_context():
        scans = db.session.scalars(sa.select(Scan).order_by(Scan.id)).all()
        assert [(s.result, s.device_id, s.point_id, s.staff_user_id) for s in scans] == [
            (ScanResult.VALID, "tablet-1", gate.id, staff.id),
            (ScanResult.ALREADY_USED, "tablet-2", gate.id, staff.id)]
        assert db.session.get(Registration, registration.id).checked_in_at == \
            scans[0].scanned_at
        activities = db.session.scalars(sa.select(Activity)).all()
    columns = ("kind", "event_id", "contact_id", "visitor_id", "channel_id", "reference",
               "value", "occurred_at")
    assert [tuple(getattr(a, c) for c in columns) for a in activities] == [
        (ActivityKind.CHECKIN, event.id, registration.contact_id, None, channel.id,
         f"scan:{first.scan_id}", None, scans[0].scanned_at)]
    assert [tuple(getattr(a, c) for c in columns) for a in heard] == \
        [tuple(getattr(a, c) for c in columns) for a in activities], \
        "subscribers hear of the activity once, as stored"
