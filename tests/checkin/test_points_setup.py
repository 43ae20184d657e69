"""Marketing sets up the event's check-in points: the list with each point's scans, adding and
editing with errors shown on the form, closing and reopening (a closed point's tablets are
refused), deleting a point never scanned at (a point with scans stays in the audit log), and
who may do any of it."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from eventapp.checkin.models import CheckinPoint, PointKind, Scan
from eventapp.extensions import db


@pytest.fixture
def client_as(request):
    return lambda role: request.getfixturevalue(f"{role}_client")


def points_in_db(app) -> list[tuple[str, str, str, str, bool]]:
    with app.app_context():
        return [(p.name, p.kind.value, p.hall, p.location, p.active) for p in db.session.scalars(
            sa.select(CheckinPoint).order_by(CheckinPoint.id))]


def scan(client, event, point, code, **extra):
    return client.post(f"/api/v1/events/{event.slug}/checkin/redemptions",
                       json={"code": code, "point_id": point.id, "device_id": "tablet-1",
                             "client_scan_id": str(uuid.uuid4()), **extra},
                       headers={"X-CSRFToken": client.csrf_token()})


def row_of(page: str, point_id: int) -> str:
    match = re.search(rf'<tr class="point-row[^"]*" data-point-id="{point_id}">(.*?)</tr>',
                      page, re.DOTALL)
    assert match, f"no row for point {point_id}"
    return match.group(1)


# --- who may ------------------------------------------------------------------------------

@pytest.mark.parametrize("role, status", [("marketer", 200), ("admin", 200), ("staff", 403),
                                          ("supervisor", 403), ("sales", 403),
                                          ("outsider", 403)])
def test_only_marketing_sets_up_points(app, make, event, client_as, role, status):
    point = make.point(event, name="North gate")
    client = client_as(role)

    pages = [client.get(f"/events/{event.slug}/checkin/points"),
             client.get(f"/events/{event.slug}/checkin/points/{point.id}")]
    changes = [
        client.post_form(f"/events/{event.slug}/checkin/points",
                         {"name": "South gate", "kind": "entrance"}),
        client.post_form(f"/events/{event.slug}/checkin/points/{point.id}",
                         {"name": "Renamed", "kind": "entrance"}),
        client.post_form(f"/events/{event.slug}/checkin/points/{point.id}/close"),
        client.post_form(f"/events/{event.slug}/checkin/points/{point.id}/delete"),
    ]

    assert [r.status_code for r in pages] == [status, status]
    assert [r.status_code for r in changes] == [302 if status == 200 else 403] * 4
    if status == 403:
        assert points_in_db(app) == [("North gate", "entrance", "Hall 1", "", True)]
    else:
        assert points_in_db(app) == [("South gate", "entrance", "", "", True)]


def test_the_tabs_are_in_marketing_s_navigation_only(make, event, marketer_client,
                                                    sales_client):
    tabs = (f'href="/events/{event.slug}/checkin/points"',
            f'href="/events/{event.slug}/checkin/dashboard"')

    marketing = marketer_client.get(f"/events/{event.slug}/").get_data(as_text=True)
    sales = sales_client.get(f"/events/{event.slug}/people").get_data(as_text=True)

    assert all(tab in marketing for tab in tabs)
    assert 'class="event-nav"' in sales and not any(tab in sales for tab in tabs)


def test_another_event_s_point_is_not_found(app, make, event, marketer_client):
    elsewhere = make.point(make.event(), name="Their gate")

    assert marketer_client.get(
        f"/events/{event.slug}/checkin/points/{elsewhere.id}").status_code == 404
    marketer_client.post_form(f"/events/{event.slug}/checkin/points/{elsewhere.id}/delete")
    marketer_client.post_form(f"/events/{event.slug}/checkin/points/{elsewhere.id}/close")

    assert points_in_db(app) == [("Their gate", "entrance", "Hall 1", "", True)]


# --- adding and editing -------------------------------------------------------------------

def test_a_marketer_adds_a_point_and_sees_it_listed(app, event, marketer_client):
    response = marketer_client.post_form(f"/events/{event.slug}/checkin/points", {
        "name": "  North gate ", "kind": "entrance", "hall": "Hall 1",
        "location": "Metro exit 2"}, follow_redirects=True)

    page = response.get_data(as_text=True)
    assert "Check-in point North gate added." in page
    assert points_in_db(app) == [("North gate", "entrance", "Hall 1", "Metro exit 2", True)]
    assert "Metro exit 2" in page and "Entrance" in page


def test_a_duplicate_name_is_shown_on_the_form(app, make, event, marketer_client,
                                                field_errors):
    make.point(event, name="North gate")

    response = marketer_client.post_form(f"/events/{event.slug}/checkin/points", {
        "name": "North gate", "kind": "session", "hall": "Hall 2"})

    assert response.status_code == 200
    assert field_errors(response, "name") == [
        "Another check-in point of this event has this name."]
    assert 'value="Hall 2"' in response.get_data(as_text=True), "the typed values stay"
    assert len(points_in_db(app)) == 1


def test_a_name_is_required_and_the_kind_must_be_known(app, event, marketer_client,
                                                        field_errors):
    response = marketer_client.post_form(f"/events/{event.slug}/checkin/points",
                                         {"name": "", "kind": "helipad"})

    assert response.status_code == 200
    assert field_errors(response, "name") and field_errors(response, "kind")
    assert points_in_db(app) == []


def test_without_the_csrf_token_nothing_is_saved(app, make, event, marketer_client):
    point = make.point(event, name="North gate")

    responses = [
        marketer_client.post(f"/events/{event.slug}/checkin/points",
                             data={"name": "South gate", "kind": "entrance"}),
        marketer_client.post(f"/events/{event.slug}/checkin/points/{point.id}",
                             data={"name": "Renamed", "kind": "entrance"}),
        marketer_client.post(f"/events/{event.slug}/checkin/points/{point.id}/close"),
        marketer_client.post(f"/events/{event.slug}/checkin/points/{point.id}/delete"),
    ]

    assert [r.status_code for r in responses] == [400] * 4
    assert points_in_db(app) == [("North gate", "entrance", "Hall 1", "", True)]


def test_editing_a_point_keeps_it_closed_or_open(app, make, event, marketer_client,
                                                 field_errors):
    point = make.point(event, name="Room A", kind="session", hall="Hall 1", active=False)
    make.point(event, name="Main stage", kind="session")
    url = f"/events/{event.slug}/checkin/points/{point.id}"

    form = marketer_client.get(url).get_data(as_text=True)
    clash = marketer_client.post_form(url, {"name": "Main stage", "kind": "session"})
    saved = marketer_client.post_form(url, {"name": "Room B", "kind": "booth",
                                            "hall": "Hall 3", "location": "Stand B7"})

    assert 'value="Room A"' in form and '<option selected value="session">' in form
    assert field_errors(clash, "name") == [
        "Another check-in point of this event has this name."]
    assert saved.status_code == 302
    assert points_in_db(app)[0] == ("Room B", "booth", "Hall 3", "Stand B7", False)


# --- the list -----------------------------------------------------------------------------

def test_the_list_counts_each_point_s_scans(make, event, staff_client, marketer_client):
    north = make.point(event, name="North gate")
    south = make.point(event, name="South gate")
    registration = make.registration(event)
    for code in (registration.ticket_code, registration.ticket_code, "junk"):
        assert scan(staff_client, event, north, code).status_code == 200

    page = marketer_client.get(f"/events/{event.slug}/checkin/points").get_data(as_text=True)

    assert re.search(r'<td class="num"[^>]*>3</td>', row_of(page, north.id))
    assert re.search(r'<td class="num"[^>]*>0</td>', row_of(page, south.id))
    assert "/delete" not in row_of(page, north.id), "a point with scans cannot be deleted"
    assert "/delete" in row_of(page, south.id)


def test_the_list_asks_the_database_the_same_whatever_the_number_of_points(
        app, make, event, marketer_client):
    def queries_for_the_list() -> int:
        statements: list[str] = []
        with app.app_context():
            engine = db.engine
        listener = lambda *args: statements.append(args[2])
        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            assert marketer_client.get(
                f"/events/{event.slug}/checkin/points").status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        return len(statements)

    make.point(event, name="Gate 1")
    one = queries_for_the_list()
    for n in range(2, 8):
        make.point(event, name=f"Gate {n}", kind="booth" if n % 2 else "session")

    assert queries_for_the_list() == one


# --- closing, reopening, deleting -----------------------------------------------------------

def test_a_closed_point_refuses_tablets_until_reopened(app, make, event, staff_client,
                                                       marketer_client):
    point = make.point(event, name="North gate")
    registration = make.registration(event)
    base = f"/events/{event.slug}/checkin/points/{point.id}"

    closed = marketer_client.post_form(f"{base}/close", follow_redirects=True)
    refused = scan(staff_client, event, point, registration.ticket_code)
    page = marketer_client.get(f"/events/{event.slug}/checkin/points").get_data(as_text=True)
    marketer_client.post_form(f"{base}/reopen")
    admitted = scan(staff_client, event, point, registration.ticket_code)

    assert "North gate is closed" in closed.get_data(as_text=True)
    assert refused.status_code == 409
    assert "Closed" in row_of(page, point.id) and "/reopen" in row_of(page, point.id)
    assert admitted.status_code == 200 and admitted.get_json()["result"] == "valid"
    assert points_in_db(app)[0][4] is True


def test_only_a_point_without_scans_is_deleted(app, make, event, staff_client,
                                               marketer_client):
    used = make.point(event, name="North gate")
    unused = make.point(event, name="Spare gate")
    assert scan(staff_client, event, used, make.registration(event).ticket_code).status_code == 200

    refused = marketer_client.post_form(
        f"/events/{event.slug}/checkin/points/{used.id}/delete", follow_redirects=True)
    deleted = marketer_client.post_form(
        f"/events/{event.slug}/checkin/points/{unused.id}/delete", follow_redirects=True)

    assert "North gate has scans, so it stays in the audit log." in refused.get_data(
        as_text=True)
    assert "Spare gate is deleted." in deleted.get_data(as_text=True)
    assert [name for name, *_ in points_in_db(app)] == ["North gate"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Scan)) == 1


def test_the_kinds_offered_are_the_kinds_there_are(event, marketer_client):
    page = marketer_client.get(f"/events/{event.slug}/checkin/points").get_data(as_text=True)

    offered = re.findall(r'<option[^>]* value="([a-z_]+)"', page)
    assert offered == [kind.value for kind in PointKind]
