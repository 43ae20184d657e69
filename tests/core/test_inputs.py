"""Numbers longer than the database's columns hold, in a URL, a query string or an API body:
a 404 or a 422 that names the field, never a database error answered 500."""

from __future__ import annotations

import uuid

import pytest

from eventapp.core.inputs import INTEGER_MAX, whole_number

TOO_LARGE = (INTEGER_MAX + 1, 2**63, 2**70)


@pytest.fixture
def gate(make, event):
    return make.point(event, name="North gate", kind="entrance")


@pytest.mark.parametrize("point_id", [*TOO_LARGE, 0, -1])
def test_a_scan_at_a_point_id_out_of_range_is_refused_by_its_field(make, event, gate,
                                                                   staff_client, point_id):
    registration = make.registration(event)

    response = staff_client.post(
        f"/api/v1/events/{event.slug}/checkin/redemptions",
        json={"code": registration.ticket_code, "point_id": point_id,
              "client_scan_id": str(uuid.uuid4())},
        headers={"X-CSRFToken": staff_client.csrf_token()})

    assert response.status_code == 422
    assert "point_id" in response.get_json()["error"]["details"]


def test_a_check_in_by_hand_of_a_registration_id_out_of_range_is_refused(
        event, gate, supervisor_client):
    response = supervisor_client.post(
        f"/api/v1/events/{event.slug}/checkin/redemptions/by-hand",
        json={"registration_id": 2**63, "point_id": gate.id},
        headers={"X-CSRFToken": supervisor_client.csrf_token()})

    assert response.status_code == 422
    assert "registration_id" in response.get_json()["error"]["details"]


@pytest.mark.parametrize("scan_id", [INTEGER_MAX + 1, 2**70])
def test_an_id_out_of_range_in_a_url_is_not_found(event, supervisor_client, scan_id):
    response = supervisor_client.post(
        f"/api/v1/events/{event.slug}/checkin/scans/{scan_id}/undo", json={},
        headers={"X-CSRFToken": supervisor_client.csrf_token()})

    assert response.status_code == 404


def test_an_id_in_range_in_a_url_still_reaches_its_view(event, supervisor_client):
    response = supervisor_client.post(
        f"/api/v1/events/{event.slug}/checkin/scans/{INTEGER_MAX}/undo", json={},
        headers={"X-CSRFToken": supervisor_client.csrf_token()})

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("query", [f"?point={2**70}&page={2**70}", f"?page={INTEGER_MAX + 1}",
                                   "?point=-3&page=-1", "?point=x&page=y"])
def test_the_gate_log_ignores_a_number_out_of_range_in_its_query(event, gate,
                                                                 supervisor_client, query):
    response = supervisor_client.get(f"/events/{event.slug}/checkin/log{query}")

    assert response.status_code == 200


def test_the_people_list_ignores_a_page_out_of_range(make, event, marketer_client):
    make.registration(event, make.contact(name="李雷"))

    response = marketer_client.get(f"/events/{event.slug}/people?page={2**70}")

    assert response.status_code == 200
    assert "李雷" in response.get_data(as_text=True)


def test_the_registrations_api_answers_a_page_out_of_range_with_an_empty_page(
        make, event, marketer_client):
    make.registration(event)

    response = marketer_client.get(f"/api/v1/events/{event.slug}/registrations?page={2**70}")

    assert response.status_code == 200
    assert response.get_json() == []


@pytest.mark.single_db
def test_whole_number_takes_zero_to_the_largest_integer_only():
    assert [whole_number(text) for text in ("0", "7", str(INTEGER_MAX))] == [0, 7, INTEGER_MAX]
    for text in ("-1", str(INTEGER_MAX + 1), "1.5", "x"):
        with pytest.raises(ValueError):
            whole_number(text)
