"""The gate tablet's page (GET /events/<slug>/checkin): who may open it, which tools each staff
level gets, the event's points and recent scans, the walk-in form built from the event's
booking form, and the words the page shows (online and offline) in the reader's language."""

from __future__ import annotations

import html
import json
import re
import uuid

import pytest

from eventapp.checkin.labels import words_for_tablet
from eventapp.events.models import Event
from eventapp.extensions import db

CJK = re.compile(r"[\u4e00-\u9fff]")
WORDS = re.compile(r'<script type="application/json" id="gate-words">(.*?)</script>', re.S)
SUPERVISOR_TOOLS = ("data-search-form", "data-walkin-form", "data-totals", "data-undo-last")


def page_of(client, event, **headers) -> str:
    response = client.get(f"/events/{event.slug}/checkin", headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def words_of(page: str) -> dict:
    match = WORDS.search(page)
    assert match, "the page carries its words as a JSON block"
    return json.loads(match.group(1))


def data_attribute(page: str, name: str) -> str:
    match = re.search(rf'{name}="([^"]*)"', page)
    assert match, f"no {name} on the page"
    return html.unescape(match.group(1))


@pytest.fixture
def gate(make, event):
    return make.point(event, name="North gate", kind="entrance", hall="Hall 1")


def redeem(client, event, point, code):
    response = client.post(f"/api/v1/events/{event.slug}/checkin/redemptions",
                           json={"code": code, "point_id": point.id, "device_id": "tablet-9",
                                 "client_scan_id": str(uuid.uuid4())},
                           headers={"X-CSRFToken": client.csrf_token()})
    assert response.status_code == 200
    return response.get_json()


# --- who opens it, with which tools -------------------------------------------------------

def test_a_steward_gets_the_scanner_but_no_supervisor_tools(staff_client, event, gate):
    page = page_of(staff_client, event)

    assert "data-scan-input" in page and "data-camera-toggle" in page
    assert data_attribute(page, "data-supervisor") == "false"
    for tool in SUPERVISOR_TOOLS:
        assert tool not in page, f"a steward sees {tool}"
    assert "search_none" not in words_of(page)


@pytest.mark.parametrize("role", ["supervisor", "marketer", "admin"])
def test_supervisors_marketers_and_admins_get_the_tools(request, event, gate, role):
    client = request.getfixturevalue(f"{role}_client")
    page = page_of(client, event)

    assert data_attribute(page, "data-supervisor") == "true"
    for tool in SUPERVISOR_TOOLS:
        assert tool in page, f"a {role} misses {tool}"
    assert words_of(page)["search_none"].startswith("No one found")


@pytest.mark.parametrize("role", ["sales", "outsider"])
def test_sales_and_outsiders_may_not_open_the_gate(request, event, role):
    response = request.getfixturevalue(f"{role}_client").get(f"/events/{event.slug}/checkin")
    assert response.status_code == 403
    assert "No access" in response.get_data(as_text=True)


def test_without_a_session_the_gate_sends_to_the_login_page(client, event):
    response = client.get(f"/events/{event.slug}/checkin")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_the_old_gate_address_leads_to_the_check_in_page(staff_client, event):
    response = staff_client.get(f"/events/{event.slug}/gate")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/events/{event.slug}/checkin")


# --- what the page knows ----------------------------------------------------------------------

def test_the_page_lists_the_open_points_with_their_kind(make, staff_client, event, gate):
    make.point(event, name="Main stage", kind="session", hall="Hall 2")
    make.point(event, name="Gift desk", kind="gift_desk")
    make.point(event, name="Old gate", kind="entrance", active=False)

    page = page_of(staff_client, event)

    choices = re.findall(r'data-point-choice="(\d+)"\s+data-name="([^"]+)" data-kind="(\w+)"'
                         r' data-hall="([^"]*)"\s+data-kind-label="[^"]+"\s+'
                         r'data-directions="(\w+)"', page)
    assert [(name, kind, hall, directions) for _id, name, kind, hall, directions in choices] == [
        ("North gate", "entrance", "Hall 1", "true"), ("Main stage", "session", "Hall 2", "true"),
        ("Gift desk", "gift_desk", "Hall 1", "false")]
    assert "Old gate" not in page
    assert str(gate.id) == choices[0][0]


def test_the_print_badge_link_is_the_badge_of_the_person_on_screen(app, make, staff_client,
                                                                    event, gate):
    registration = make.registration(event, make.contact(name="王小明"))
    template = data_attribute(page_of(staff_client, event), "data-badge-url")

    url = template.replace("{id}", str(registration.id))
    endpoint, arguments = app.url_map.bind("localhost").match(url)
    assert (endpoint, arguments) == ("badges.badge", {"slug": event.slug,
                                                      "registration_id": registration.id})
    response = staff_client.get(url)
    assert response.status_code == 200 and response.mimetype == "application/pdf"


def test_an_event_without_points_says_whom_to_ask(staff_client, event):
    page = page_of(staff_client, event)
    assert "data-point-choice" not in page
    assert "no open check-in points yet" in page


def test_the_page_knows_its_event_api_timezone_and_staff_member(staff_client, event, gate):
    page = page_of(staff_client, event)

    assert data_attribute(page, "data-timezone") == "Asia/Shanghai"
    assert data_attribute(page, "data-api-base") == f"/api/v1/events/{event.slug}/checkin"
    assert data_attribute(page, "data-event-id") == str(event.id)
    assert data_attribute(page, "data-staff-name") == staff_client.user.name
    assert data_attribute(page, "data-badge-url") == (
        f"/events/{event.slug}/checkin/badges/{{id}}.pdf")
    assert '<script type="module" src="/static/checkin/gate.js">' in page


def test_recent_scans_of_each_point_are_listed_newest_first(make, staff_client, event, gate):
    room = make.point(event, name="Main stage", kind="session")
    first = make.registration(event, make.contact(name="王小明"))
    second = make.registration(event, make.contact(name="Emily Clark"))
    redeem(staff_client, event, gate, first.ticket_code)
    redeem(staff_client, event, gate, second.ticket_code)
    redeem(staff_client, event, gate, first.ticket_code)
    redeem(staff_client, event, room, second.ticket_code)

    page = page_of(staff_client, event)

    def rows(point):
        block = re.search(rf'data-recent-for="{point.id}"[^>]*>(.*?)</ol>', page, re.S).group(1)
        return re.findall(r'class="recent recent--(\w+)".*?data-field="name">([^<]*)<.*?'
                          r'data-field="title">([^<]*)<.*?data-field="staff">([^<]*)<',
                          block, re.S)

    staff = staff_client.user.name
    assert rows(gate) == [("warn", "王小明", "Already checked in", staff),
                          ("good", "Emily Clark", "Valid", staff),
                          ("good", "王小明", "Valid", staff)]
    assert rows(room) == [("good", "Emily Clark", "Valid", staff)]


# --- the walk-in form ------------------------------------------------------------------------

def test_the_walk_in_form_is_the_events_booking_form(app, supervisor_client, event, gate):
    with app.app_context():
        stored = db.session.get(Event, event.id)
        stored.booking_form = {
            "fields": {"name": "required", "phone": "required", "email": "off",
                       "company": "required", "job_title": "off", "city": "optional"},
            "questions": [{"key": "topic", "kind": "single", "label": "Topic of interest",
                           "options": ["AI", "数字孪生"], "required": True}]}
        stored.privacy_text = "Our own privacy words."
        db.session.commit()

    page = page_of(supervisor_client, event)
    form = re.search(r"<form class=\"walkin__form\".*?</form>", page, re.S).group(0)

    names = re.findall(r'<input id="field-[^"]+" name="(\w+)"', form)
    assert names == ["name", "phone", "company", "city"]
    assert 'name="q_topic" value="数字孪生"' in form and "Topic of interest" in form
    assert 'name="consent"' in form and "Our own privacy words." in form


# --- words --------------------------------------------------------------------------------

def test_the_words_include_every_result_for_offline_use(app, staff_client, event, gate):
    words = words_of(page_of(staff_client, event))

    with app.test_request_context():
        expected = json.loads(json.dumps(words_for_tablet()))
    assert words["results"] == expected["results"]
    assert words["gift"] == expected["gift"]
    assert words["results"]["forged"][0] == "Forged ticket"
    assert set(words["tones"]) == set(words["results"])
    assert (words["tones"]["valid"], words["tones"]["already_used"],
            words["tones"]["forged"]) == ("good", "warn", "bad")
    assert words["offline"] == {"one": "Offline: {count} scan waiting to sync",
                                "other": "Offline: {count} scans waiting to sync"}
    assert "{when}" in words["first_use"] and "{point}" in words["first_use"]
    assert "{staff}" in words["first_use"]


def test_the_page_speaks_chinese_to_a_chinese_browser(supervisor_client, event, gate):
    page = page_of(supervisor_client, event, **{"Accept-Language": "zh-CN"})
    words = words_of(page)

    for text in (words["ready"], words["results"]["valid"][0], words["results"]["forged"][1],
                 words["offline"]["other"], words["first_use"], words["search_none"],
                 words["gift_due"]):
        assert CJK.search(text), f"{text!r} is not Chinese"
    assert "{count}" in words["offline"]["other"]
    assert all(f"{{{name}}}" in words["first_use"] for name in ("when", "point", "staff"))
    assert "Ready to scan" not in page and "Register a walk-in" not in page
    assert 'data-lang="zh-Hans-CN"' in page
