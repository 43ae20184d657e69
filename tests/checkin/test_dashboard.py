"""The live arrivals dashboard: who may open it, that its figures (on the page at load and in
the JSON the page polls) are what the database holds after scans made through the gate API,
check-ins per 10 minutes, times in the event's timezone and words in the reader's language."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from datetime import timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask

from eventapp.checkin.models import CheckinPoint, PointKind, Scan, ScanResult
from eventapp.core.time import utcnow
from eventapp.events.models import Registration, RegistrationStatus
from eventapp.extensions import db
from tests.conftest import Client
from tests.factories import Factory


def signed_in(app: Flask, make: Factory, event, role: str | None, *,
              locale: str | None = None) -> Client:
    user = make.user(admin=role == "admin", locale=locale)
    if role not in (None, "admin"):
        make.membership(event, user, role)
    app.test_client_class = Client
    client = app.test_client()
    client.login(user.email, Factory.PASSWORD)
    client.user = user  # type: ignore[attr-defined]
    return client


def scan(client, event, point, code, *, direction="in", purpose="entry"):
    response = client.post(f"/api/v1/events/{event.slug}/checkin/redemptions", json={
        "code": code, "point_id": point.id, "device_id": "tablet-1",
        "client_scan_id": str(uuid.uuid4()), "direction": direction, "purpose": purpose},
        headers={"X-CSRFToken": client.csrf_token()})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def figures_of(client, event) -> dict:
    response = client.get(f"/events/{event.slug}/checkin/dashboard.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


# --- who may ------------------------------------------------------------------------------

@pytest.mark.parametrize("role, status", [("marketer", 200), ("admin", 200), ("staff", 403),
                                          ("supervisor", 403), ("sales", 403),
                                          (None, 403)])
def test_only_marketing_sees_the_dashboard(app, make, event, role, status):
    client = signed_in(app, make, event, role)

    page = client.get(f"/events/{event.slug}/checkin/dashboard")
    data = client.get(f"/events/{event.slug}/checkin/dashboard.json")

    assert (page.status_code, data.status_code) == (status, status)
    if status == 403:
        assert "arrivals" not in data.get_data(as_text=True)


def test_signed_out_the_dashboard_sends_to_the_login_page(client, event):
    response = client.get(f"/events/{event.slug}/checkin/dashboard")

    assert response.status_code == 302 and "/login" in response.location


# --- the figures --------------------------------------------------------------------------

@pytest.fixture
def gate_day(app, make):
    """An event in progress with four points and a morning of scans through the gate API,
    including an exit and re-entry, refusals, a gift and an undone arrival."""
    event = make.event(starts_at=utcnow() - timedelta(hours=2))
    staff = signed_in(app, make, event, "staff")
    supervisor = signed_in(app, make, event, "supervisor")
    north = make.point(event, name="North gate", kind="entrance", hall="Hall 1")
    south = make.point(event, name="South gate", kind="entrance", hall="Hall 1")
    stage = make.point(event, name="Main stage", kind="session", hall="Hall 2")
    desk = make.point(event, name="Gift desk", kind="gift_desk", hall="")
    a, b, c, _d = (make.registration(event, make.contact(name=name))
                   for name in ("王小明", "Emily Clark", "张伟", "刘洋"))
    cancelled = make.registration(event, status=RegistrationStatus.CANCELLED)
    make.registration(event, status=RegistrationStatus.WAITLISTED)
    plan = [(north, a, "in"), (north, b, "in"), (north, a, "out"), (north, a, "in"),
            (north, cancelled, "in"), (north, None, "in"),
            (south, b, "in"), (south, c, "in"),
            (stage, a, "in"), (stage, b, "in"), (stage, a, "in"), (stage, b, "out")]
    results = [scan(staff, event, point, who.ticket_code if who else "junk",
                    direction=direction)["result"] for point, who, direction in plan]
    assert results == ["valid", "valid", "exit", "reentry", "cancelled", "malformed",
                       "already_used", "valid", "valid", "valid", "already_used", "exit"]
    assert scan(staff, event, desk, a.ticket_code, purpose="gift")["result"] == "valid"
    assert scan(staff, event, desk, a.ticket_code, purpose="gift")["result"] == "already_used"
    with app.app_context():
        c_arrival = db.session.scalar(sa.select(Scan.id).where(
            Scan.registration_id == c.id, Scan.result == ScanResult.VALID))
    undo = supervisor.post(f"/api/v1/events/{event.slug}/checkin/scans/{c_arrival}/undo",
                           json={"device_id": "tablet-9"},
                           headers={"X-CSRFToken": supervisor.csrf_token()})
    assert undo.status_code == 200, undo.get_json()
    return event


def database_figures(app, event) -> dict:
    """The dashboard's figures counted straight from the tables, row by row."""
    with app.app_context():
        confirmed = db.session.scalars(sa.select(Registration).where(
            Registration.event_id == event.id,
            Registration.status == RegistrationStatus.CONFIRMED)).all()
        points = db.session.scalars(sa.select(CheckinPoint).where(
            CheckinPoint.event_id == event.id)).all()
        scans = db.session.scalars(sa.select(Scan).where(Scan.event_id == event.id)).all()
    per_point = {p.name: {"entries": 0, "exits": 0, "people": set(), "refused": 0}
                 for p in points}
    names = {p.id: p.name for p in points}
    for s in scans:
        row = per_point[names[s.point_id]]
        if s.undone_at is None and s.result in (ScanResult.VALID, ScanResult.REENTRY):
            row["entries"] += 1
        if s.undone_at is None and s.result == ScanResult.EXIT:
            row["exits"] += 1
        if s.undone_at is None and s.result == ScanResult.VALID:
            row["people"].add(s.registration_id)
        if s.result not in (ScanResult.VALID, ScanResult.REENTRY, ScanResult.EXIT,
                            ScanResult.UNDO):
            row["refused"] += 1
    halls: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for p in points:
        if p.hall and p.kind in (PointKind.ENTRANCE, PointKind.SESSION):
            halls[p.hall][0] += per_point[p.name]["entries"]
            halls[p.hall][1] += per_point[p.name]["exits"]
    return {
        "arrivals": sum(r.checked_in_at is not None for r in confirmed),
        "expected": len(confirmed),
        "gifts": sum(r.gift_given_at is not None for r in confirmed),
        "points": {name: (row["entries"], row["exits"], len(row["people"]), row["refused"])
                   for name, row in per_point.items()},
        "halls": {hall: (entries, exits, entries - exits)
                  for hall, (entries, exits) in halls.items()},
        "scans": len(scans),
    }


def test_the_figures_are_what_the_database_holds(app, make, gate_day):
    marketer = signed_in(app, make, gate_day, "marketer")

    figures = figures_of(marketer, gate_day)
    stored = database_figures(app, gate_day)

    shown = {
        "arrivals": figures["arrivals"], "expected": figures["expected"],
        "gifts": figures["gifts"],
        "points": {p["name"]: (p["entries"], p["exits"], p["people"], p["refused"])
                   for p in figures["points"]},
        "halls": {h["hall"]: (h["entries"], h["exits"], h["inside"]) for h in figures["halls"]},
    }
    assert shown == {key: value for key, value in stored.items() if key != "scans"}
    # and what that is, worked out by hand from the scans made
    assert (figures["arrivals"], figures["expected"], figures["gifts"]) == (2, 4, 1)
    assert figures["still_to_come"] == 2 and figures["arrived_share"] == 0.5
    assert shown["points"] == {"North gate": (3, 1, 2, 2), "South gate": (0, 0, 0, 1),
                               "Main stage": (2, 1, 2, 1), "Gift desk": (1, 0, 1, 1)}
    assert shown["halls"] == {"Hall 1": (3, 1, 2), "Hall 2": (2, 1, 1)}


def test_the_latest_scans_newest_first_with_their_results(app, make, gate_day):
    marketer = signed_in(app, make, gate_day, "marketer")

    recent = figures_of(marketer, gate_day)["recent"]

    assert len(recent) == 15  # of 15 scans: 14 made, 1 undo
    assert [s["id"] for s in recent] == sorted((s["id"] for s in recent), reverse=True)
    undo, gift_again, gift = recent[:3]
    assert (undo["result"], undo["result_label"], undo["point"]) == ("undo", "Undone",
                                                                     "South gate")
    assert (gift["result_label"], gift["name"], gift["admitted"]) == (
        "Hand out the gift", "王小明", True)
    assert (gift_again["result_label"], gift_again["admitted"]) == ("Gift already given", False)
    undone = [s for s in recent if s["undone"]]
    assert [(s["name"], s["point"], s["result"]) for s in undone] == [
        ("张伟", "South gate", "valid")]
    junk = next(s for s in recent if s["result"] == "malformed")
    assert (junk["name"], junk["result_label"], junk["admitted"]) == ("", "Not a ticket", False)


def test_the_page_shows_the_same_figures_without_javascript(app, make, gate_day):
    marketer = signed_in(app, make, gate_day, "marketer")
    figures = figures_of(marketer, gate_day)

    page = marketer.get(f"/events/{gate_day.slug}/checkin/dashboard").get_data(as_text=True)

    shown = dict(re.findall(r'data-figure="(\w+)"[^>]*>([^<]*)<', page))
    assert shown == {"arrivals": "2", "expected": "4", "arrived_share": "50%",
                     "still_to_come": "2", "gifts": "1"}
    rows = re.findall(r'<tr data-key="(\d+)">(.*?)</tr>', page, re.DOTALL)
    numbers = {int(key): [int(n) for n in re.findall(r'<td class="num"[^>]*>([\d,]+)</td>', row)]
               for key, row in rows}
    assert numbers == {p["id"]: [p["entries"], p["exits"], p["people"], p["refused"]]
                       for p in figures["points"]}
    assert page.count('class="dash-scan ') == len(figures["recent"])
    assert unescape(figures["recent"][0]["result_label"]) in page
    assert 'src="/static/checkin/dashboard.js"' in page
    assert "<script>" not in page and "style=" not in page, "the CSP forbids inline code"


def test_the_json_has_the_shape_the_page_script_reads(app, make, gate_day):
    marketer = signed_in(app, make, gate_day, "marketer")

    figures = figures_of(marketer, gate_day)

    assert set(figures) == {"generated_at", "updated", "refresh_seconds", "arrivals",
                            "expected", "still_to_come", "arrived_share", "gifts",
                            "interval_minutes", "intervals", "chart", "points", "halls",
                            "recent"}
    assert figures["refresh_seconds"] == 10 and figures["interval_minutes"] == 10
    assert all(isinstance(figures[key], int)
               for key in ("arrivals", "expected", "still_to_come", "gifts"))
    assert set(figures["points"][0]) == {"id", "name", "kind", "kind_label", "hall", "active",
                                         "entries", "exits", "people", "refused"}
    assert set(figures["halls"][0]) == {"hall", "entries", "exits", "inside"}
    assert set(figures["recent"][0]) == {"id", "at", "time", "when", "point", "name", "staff",
                                         "result", "result_label", "admitted", "direction",
                                         "offline", "conflict", "manual", "undone"}
    assert set(figures["intervals"][0]) == {"start", "label", "count"}
    chart = figures["chart"]
    assert len(chart["bars"]) == len(figures["intervals"])
    assert set(chart["bars"][0]) == {"x", "y", "width", "height", "center", "count", "label",
                                     "tick", "value_shown"}


def test_a_dashboard_with_nothing_yet(app, make, event):
    marketer = signed_in(app, make, event, "marketer")

    figures = figures_of(marketer, event)
    page = marketer.get(f"/events/{event.slug}/checkin/dashboard").get_data(as_text=True)

    assert (figures["arrivals"], figures["expected"], figures["arrived_share"]) == (0, 0, None)
    assert figures["points"] == [] and figures["recent"] == []
    assert 'data-figure="arrived_share" data-format="percent">–<' in page
    assert "No scans yet." in page and "No check-in points yet." in page


# --- check-ins per 10 minutes --------------------------------------------------------------

def test_check_ins_per_ten_minutes_from_an_hour_before_the_start(app, make):
    now = utcnow()
    starts = now.replace(minute=now.minute - now.minute % 10, second=0, microsecond=0) \
        - timedelta(hours=2)  # on a 10-minute mark, as the bars are
    event = make.event(starts_at=starts)
    doors = starts - timedelta(hours=1)
    for minutes in (5, 7, 25, 25, 25, 61):
        make.registration(event, checked_in_at=doors + timedelta(minutes=minutes))
    make.registration(event)  # not here yet
    marketer = signed_in(app, make, event, "marketer", locale="zh_CN")

    figures = figures_of(marketer, event)

    counts = [row["count"] for row in figures["intervals"]]
    assert counts[:7] == [2, 0, 3, 0, 0, 0, 1] and sum(counts) == 6
    assert len(counts) in (18, 19)  # three hours of 10-minute bars, to now
    local = doors.astimezone(ZoneInfo("Asia/Shanghai"))
    assert figures["intervals"][0]["label"] == local.strftime("%H:%M")
    assert figures["intervals"][2]["label"] == (local + timedelta(minutes=20)).strftime("%H:%M")
    bars = figures["chart"]["bars"]
    assert bars[2]["height"] == max(b["height"] for b in bars) > bars[0]["height"] > 0
    assert bars[1]["height"] == 0
    assert sum(b["tick"] for b in bars) <= 8, "the time is written under a few bars only"


def test_the_bars_stand_on_the_clock_s_ten_minute_marks(app, make):
    starts = utcnow().replace(second=0, microsecond=0) - timedelta(hours=1, minutes=3)
    event = make.event(starts_at=starts.replace(minute=27))
    marketer = signed_in(app, make, event, "marketer")

    labels = [row["label"] for row in figures_of(marketer, event)["intervals"]]

    assert labels and all(label.split(":")[1][:2].endswith("0") for label in labels)


def test_times_in_the_event_s_timezone_and_words_in_the_reader_s_language(app, make):
    event = make.event(starts_at=utcnow() - timedelta(hours=1))
    gate = make.point(event, name="北门", kind="entrance")
    staff = signed_in(app, make, event, "staff")
    scan(staff, event, gate, make.registration(event).ticket_code)
    marketer = signed_in(app, make, event, "marketer", locale="zh_CN")

    latest = figures_of(marketer, event)["recent"][0]
    page = marketer.get(f"/events/{event.slug}/checkin/dashboard").get_data(as_text=True)

    with app.app_context():
        scanned = db.session.scalar(sa.select(Scan.scanned_at).where(Scan.id == latest["id"]))
    assert latest["time"] == scanned.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
    assert latest["result_label"] != "Valid" and re.search(r"[\u4e00-\u9fff]",
                                                           latest["result_label"])
    assert '<html lang="zh-Hans-CN"' in page
    assert f">{latest['time']}</time>" in page
