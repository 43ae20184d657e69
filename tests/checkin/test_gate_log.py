"""The gate's audit log page: every scan with result, point, person, staff and device; undone
scans beside their undoing; filters; supervisors and marketers only."""

from __future__ import annotations

import pytest

from tests.checkin.test_gate_tools import post
from tests.checkin.test_redeem import scan


def table(client, url):
    """The log's table rows (not the filters' choices)."""
    page = client.get(url).get_data(as_text=True)
    return page[page.index("<tbody>"):page.index("</tbody>")]


@pytest.fixture
def gate(make, event):
    return make.point(event, name="North gate")


def test_the_log_shows_every_scan_and_the_undoing(make, event, gate, staff_client,
                                                  marketer_client):
    room = make.point(event, name="Main stage", kind="session")
    registration = make.registration(event, make.contact(name="刘洋"))
    first = scan(staff_client, event, gate, registration.ticket_code)
    scan(staff_client, event, gate, registration.ticket_code)
    scan(staff_client, event, room, "garbage")
    post(marketer_client, event, f"scans/{first['scan_id']}/undo", {"device_id": "office"})

    page = table(marketer_client, f"/events/{event.slug}/checkin/log")
    only_room = table(marketer_client, f"/events/{event.slug}/checkin/log?point={room.id}")
    only_refused = table(marketer_client,
                         f"/events/{event.slug}/checkin/log?result=already_used")

    for text in ("刘洋", "North gate", "Main stage", "tablet-1", staff_client.user.name,
                 "Valid", "Already checked in", "Not a ticket", "Undone",
                 f"undoes scan #{first['scan_id']}", "undone at"):
        assert text in page, text
    assert "Main stage" in only_room and "刘洋" not in only_room
    assert "Already checked in" in only_refused and "Not a ticket" not in only_refused


@pytest.mark.parametrize("role, status", [("marketer", 200), ("admin", 200), ("staff", 403),
                                          ("sales", 403), ("outsider", 403)])
def test_the_log_is_for_supervisors_and_marketers(request, event, role, status):
    client = request.getfixturevalue(f"{role}_client")
    assert client.get(f"/events/{event.slug}/checkin/log").status_code == status


def test_a_supervisor_sees_the_log_in_the_tabs(make, event, client):
    supervisor = make.user()
    make.membership(event, supervisor, "supervisor")
    client.login(supervisor.email, make.PASSWORD)

    page = client.get(f"/events/{event.slug}/checkin/log")

    assert page.status_code == 200
    assert f'href="/events/{event.slug}/checkin/log"' in page.get_data(as_text=True)
