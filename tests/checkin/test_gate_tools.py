"""The rest of the gate API: offline sync (idempotent, conflicts reported, the first stored
scan kept), the tablet's offline roster, supervisor search and check-in by hand, walk-ins,
totals per point and hall, and who may call what."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from eventapp.checkin.models import Scan, ScanResult
from eventapp.contacts.models import Contact
from eventapp.core.activity import Activity, ActivityKind
from eventapp.core.outbox import OutboxMessage
from eventapp.core.time import utcnow
from eventapp.events.models import Event, EventStatus, Registration, RegistrationStatus
from eventapp.extensions import db
from tests.checkin.test_redeem import scan


def api(client, event, path):
    return f"/api/v1/events/{event.slug}/checkin/{path}"


def post(client, event, path, body):
    return client.post(api(client, event, path), json=body,
                       headers={"X-CSRFToken": client.csrf_token()})


@pytest.fixture
def gate(make, event):
    return make.point(event, name="North gate", kind="entrance", hall="Hall 1")


def offline_scan(point, code, minutes_ago, **extra):
    return {"client_scan_id": str(uuid.uuid4()), "point_id": point.id, "code": code,
            "scanned_at": (utcnow() - timedelta(minutes=minutes_ago)).isoformat(),
            "device_admitted": True, **extra}


# --- offline sync ---------------------------------------------------------------------------

def test_offline_scans_sync_once_however_often_they_are_sent(app, make, event, gate,
                                                            staff_client):
    tickets = [make.registration(event).ticket_code for _ in range(5)]
    batch = {"device_id": "tablet-7",
             "scans": [offline_scan(gate, code, 10 - n) for n, code in enumerate(tickets)]}

    first = post(staff_client, event, "sync", batch)
    again = post(staff_client, event, "sync", batch)

    assert first.status_code == again.status_code == 200
    assert [r["outcome"]["result"] for r in first.get_json()["results"]] == ["valid"] * 5
    assert all(r["outcome"]["replayed"] for r in again.get_json()["results"])
    assert first.get_json()["conflicts"] == 0
    with app.app_context():
        scans = db.session.scalars(sa.select(Scan)).all()
        assert len(scans) == 5 and all(s.offline and s.device_id == "tablet-7" for s in scans)
        # the tablet's time of the scan, not the time of the sync
        assert max(s.scanned_at for s in scans) < utcnow() - timedelta(minutes=5)
        arrivals = db.session.scalars(sa.select(Registration.checked_in_at)).all()
        assert all(a is not None and a < utcnow() - timedelta(minutes=5) for a in arrivals)


def test_a_ticket_used_at_two_offline_gates_is_reported_as_a_conflict(app, make, event, gate,
                                                                     staff_client):
    south = make.point(event, name="South gate")
    registration = make.registration(event)
    code = registration.ticket_code

    north_sync = post(staff_client, event, "sync", {
        "device_id": "north", "scans": [offline_scan(gate, code, 8)]}).get_json()
    south_sync = post(staff_client, event, "sync", {
        "device_id": "south", "scans": [offline_scan(south, code, 5)]}).get_json()

    assert north_sync["results"][0]["outcome"]["result"] == "valid"
    conflict = south_sync["results"][0]["outcome"]
    assert south_sync["conflicts"] == 1
    assert conflict["result"] == "already_used" and conflict["conflict"] is True
    assert conflict["first"]["point"] == "North gate"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Scan).where(
            Scan.conflict.is_(True))) == 1


def test_a_sync_batch_with_a_bad_scan_stores_the_others(app, make, event, gate, staff_client):
    other_event_point = make.point(make.event())
    good = make.registration(event).ticket_code
    answer = post(staff_client, event, "sync", {"device_id": "t", "scans": [
        offline_scan(gate, good, 3), offline_scan(other_event_point, good, 2),
        offline_scan(gate, "not a ticket", 1)]}).get_json()

    assert [(r["outcome"] or {}).get("result") or r["error"] for r in answer["results"]] == [
        "valid", "unknown_point", "malformed"]


def test_a_steward_cannot_check_in_by_hand_through_sync(app, make, event, gate, staff_client,
                                                        supervisor_client):
    registration = make.registration(event)
    by_hand = {"client_scan_id": str(uuid.uuid4()), "point_id": gate.id,
               "registration_id": registration.id, "scanned_at": utcnow().isoformat(),
               "device_admitted": True}

    steward = post(staff_client, event, "sync", {"scans": [by_hand]}).get_json()
    supervisor = post(supervisor_client, event, "sync", {"scans": [by_hand]}).get_json()

    assert steward["results"][0] == {"client_scan_id": by_hand["client_scan_id"],
                                     "outcome": None, "error": "not_allowed"}
    assert supervisor["results"][0]["outcome"]["result"] == "valid"
    assert supervisor["results"][0]["outcome"]["scope"] == "venue"


def test_a_sync_batch_too_large_or_malformed_is_refused_whole(make, event, gate, staff_client):
    too_many = {"scans": [offline_scan(gate, "X", 1) for _ in range(501)]}
    no_time = {"scans": [{"client_scan_id": "a", "point_id": gate.id, "code": "X"}]}

    assert post(staff_client, event, "sync", too_many).status_code == 422
    assert post(staff_client, event, "sync", no_time).status_code == 422


# --- roster --------------------------------------------------------------------------------

def test_the_roster_has_what_a_tablet_needs_offline(app, make, event, gate, staff_client):
    confirmed = make.registration(event, make.contact(name="张伟"))
    cancelled = make.registration(event, status=RegistrationStatus.CANCELLED)
    scan(staff_client, event, gate, confirmed.ticket_code)

    roster = staff_client.get(api(staff_client, event, "roster")).get_json()

    with app.app_context():
        key = db.session.get(Event, event.id).ticket_public_key
    assert base64.b64decode(roster["public_key"]) == key
    assert [p["name"] for p in roster["points"]] == ["North gate"]
    entries = {r["id"]: r for r in roster["registrations"]}
    assert entries[confirmed.id]["serial"] == str(confirmed.ticket_serial)
    assert entries[confirmed.id]["checked_in"] is True and entries[confirmed.id]["name"] == "张伟"
    assert entries[cancelled.id]["status"] == "cancelled"


# --- supervisor tools ----------------------------------------------------------------------

def test_a_supervisor_finds_a_person_and_checks_them_in_by_hand(app, make, event, gate,
                                                               supervisor_client):
    contact = make.contact(name="Zhao Lei", phone="+8613912345678", company="Orbit Robotics")
    registration = make.registration(event, contact)
    make.registration(make.event(), make.contact(name="Zhao Lei elsewhere"))

    by_name = supervisor_client.get(api(supervisor_client, event, "search?q=zhao")).get_json()
    by_mobile = supervisor_client.get(api(supervisor_client, event, "search?q=2345678"))
    by_company = supervisor_client.get(api(supervisor_client, event, "search?q=orbit"))
    checked = post(supervisor_client, event, "redemptions/by-hand", {
        "registration_id": registration.id, "point_id": gate.id,
        "client_scan_id": str(uuid.uuid4())}).get_json()

    assert [hit["registration_id"] for hit in by_name] == [registration.id]
    assert by_name[0]["phone"] == "…5678", "the gate sees only the last digits of a mobile"
    assert [h["name"] for h in by_mobile.get_json()] == [h["name"] for h in
                                                          by_company.get_json()] == ["Zhao Lei"]
    assert checked["result"] == "valid" and checked["name"] == "Zhao Lei"
    with app.app_context():
        stored = db.session.get(Scan, checked["scan_id"])
        assert stored.manual and stored.staff_user_id == supervisor_client.user.id


def test_walk_in_registers_issues_the_ticket_and_checks_in_in_one_step(app, make, event, gate,
                                                                      supervisor_client):
    with app.app_context():
        stored = db.session.get(Event, event.id)
        stored.booking_deadline = utcnow() - timedelta(hours=1)  # booking has closed
        stored.capacity = 1
        db.session.commit()
    make.registration(event)  # the only place is taken

    answer = post(supervisor_client, event, "walk-ins", {
        "point_id": gate.id, "client_scan_id": str(uuid.uuid4()), "consent": True,
        "fields": {"name": "陈静", "phone": "13987654321", "email": "chen.jing@example.com",
                   "company": "星河医疗"}})

    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["result"] == "valid" and body["name"] == "陈静"
    with app.app_context():
        registration = db.session.get(Registration, body["registration_id"])
        assert registration.status == RegistrationStatus.CONFIRMED
        assert registration.checked_in_at is not None and registration.ticket_code
        contact = db.session.get(Contact, registration.contact_id)
        assert contact.sources[0].startswith("walk-in") and contact.phone == "+8613987654321"
        kinds = set(db.session.scalars(sa.select(Activity.kind).where(
            Activity.contact_id == contact.id)))
        assert kinds == {ActivityKind.BOOKING, ActivityKind.CHECKIN}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
            OutboxMessage.registration_id == registration.id)) == 2, "the ticket is sent"


def test_walk_in_needs_consent_and_valid_details(make, event, gate, supervisor_client):
    answer = post(supervisor_client, event, "walk-ins", {
        "point_id": gate.id, "consent": False, "fields": {"name": "", "phone": "12"}})

    assert answer.status_code == 422
    details = answer.get_json()["error"]["details"]
    assert {"consent", "phone"} <= set(details)


def test_walk_ins_are_refused_for_a_draft_event(app, make, gate, event, supervisor_client):
    with app.app_context():
        db.session.get(Event, event.id).status = EventStatus.DRAFT
        db.session.commit()
    answer = post(supervisor_client, event, "walk-ins", {
        "point_id": gate.id, "consent": True,
        "fields": {"name": "A", "phone": "13987654321", "email": "a@example.com"}})
    assert answer.status_code == 409


def test_totals_count_each_person_once_for_the_venue_and_occupancy_per_hall(
        make, event, gate, staff_client, supervisor_client):
    south = make.point(event, name="South gate", hall="Hall 1")
    stage = make.point(event, name="Main stage", kind="session", hall="Hall 2")
    people = [make.registration(event) for _ in range(3)]
    for registration in people:
        scan(staff_client, event, gate, registration.ticket_code)
        scan(staff_client, event, stage, registration.ticket_code)
    scan(staff_client, event, south, people[0].ticket_code)  # already used
    scan(staff_client, event, south, people[1].ticket_code, direction="out")
    scan(staff_client, event, south, "forged")

    totals = supervisor_client.get(api(supervisor_client, event, "totals")).get_json()

    assert (totals["arrivals"], totals["expected"], totals["on_site"]) == (3, 3, 2)
    per_point = {p["point"]["name"]: p for p in totals["points"]}
    assert per_point["North gate"]["entries"] == 3 and per_point["North gate"]["people"] == 3
    assert (per_point["South gate"]["exits"], per_point["South gate"]["refused"]) == (1, 2)
    assert per_point["Main stage"]["entries"] == 3
    halls = {h["hall"]: h["inside"] for h in totals["halls"]}
    assert halls == {"Hall 1": 2, "Hall 2": 3}


# --- who may call what ---------------------------------------------------------------------

@pytest.mark.parametrize("path, method, allowed", [
    ("points", "GET", {"staff", "marketer", "admin"}),
    ("roster", "GET", {"staff", "marketer", "admin"}),
    ("redemptions", "POST", {"staff", "marketer", "admin"}),
    ("sync", "POST", {"staff", "marketer", "admin"}),
    ("search?q=a", "GET", {"marketer", "admin"}),
    ("totals", "GET", {"marketer", "admin"}),
    ("redemptions/by-hand", "POST", {"marketer", "admin"}),
    ("walk-ins", "POST", {"marketer", "admin"}),
    ("scans/1/undo", "POST", {"marketer", "admin"}),
])
@pytest.mark.parametrize("role", ["staff", "sales", "outsider", "marketer", "admin"])
def test_gate_api_access_by_role(request, event, gate, role, path, method, allowed):
    client = request.getfixturevalue(f"{role}_client")
    if method == "GET":
        response = client.get(api(client, event, path))
    else:
        response = post(client, event, path, {})
    if role in allowed:
        assert response.status_code not in (401, 403), response.get_json()
    else:
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "forbidden"


def test_the_api_needs_a_login_and_a_token_works(client, make, event, gate, bearer):
    staff = make.user()
    make.membership(event, staff, "staff")
    code = make.registration(event).ticket_code
    url = api(client, event, "redemptions")

    anonymous = client.post(url, json={"code": code, "point_id": gate.id})
    with_token = client.post(url, json={"code": code, "point_id": gate.id},
                             headers=bearer(staff))

    assert anonymous.status_code == 401
    assert with_token.status_code == 200 and with_token.get_json()["result"] == "valid"


def test_a_session_write_without_csrf_is_refused(staff_client, event, gate, make):
    code = make.registration(event).ticket_code
    response = staff_client.post(api(staff_client, event, "redemptions"),
                                 json={"code": code, "point_id": gate.id})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"


def test_the_scans_of_an_erased_person_stay_as_anonymous_counts(app, make, event, gate,
                                                               staff_client):
    registration = make.registration(event)
    scan(staff_client, event, gate, registration.ticket_code)
    with app.app_context():
        db.session.delete(db.session.get(Contact, registration.contact_id))
        db.session.commit()
        scans = db.session.scalars(sa.select(Scan)).all()
        assert len(scans) == 1 and scans[0].registration_id is None
        assert scans[0].result == ScanResult.VALID


def test_the_latest_scans_are_newest_first_even_if_stored_out_of_order(app, make, event, gate):
    """Offline batches and imported history arrive in any order: the time decides."""
    from eventapp.checkin.figures import recent_scans

    now = utcnow()
    with app.app_context():
        for minutes_ago in (5, 30, 1, 12):
            db.session.add(Scan(event_id=event.id, point_id=gate.id, result=ScanResult.FORGED,
                                scanned_at=now - timedelta(minutes=minutes_ago),
                                recorded_at=now - timedelta(minutes=minutes_ago)))
        db.session.commit()
        ages = [round((now - scan.recorded_at).total_seconds() / 60)
                for scan, _person, _staff in recent_scans(event)]

    assert ages == [1, 5, 12, 30]
