"""One error shape for the whole API, {"error": {"status", "code", "message"}} (+ "details"),
whatever went wrong; pages get an HTML page instead. Bodies too large get a clear 413."""

from __future__ import annotations

import pytest

from eventapp.core.api import API_PREFIX

TOO_LARGE = "The upload is too large. Split the file or make it smaller, then try again."


def assert_error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert set(response.json) == {"error"}
    error = response.json["error"]
    assert {"status", "code", "message"} <= set(error) <= {"status", "code", "message",
                                                           "details"}
    assert (error["status"], error["code"]) == (status, code)
    assert isinstance(error["message"], str) and error["message"]
    return error


def test_401_without_a_session_or_token(client, event):
    for response in (client.get(f"{API_PREFIX}/events/{event.slug}"),
                     client.get(f"{API_PREFIX}/me"),
                     client.get(f"{API_PREFIX}/me", headers={"Authorization": "Bearer ea_x"})):
        assert_error_shape(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == "Bearer"  # HTTP requires the challenge


def test_403_for_a_role_without_access(staff_client, event):
    assert_error_shape(staff_client.get(f"{API_PREFIX}/events/{event.slug}/channels"), 403,
                       "forbidden")


def test_404_for_an_unknown_event(marketer_client):
    assert_error_shape(marketer_client.get(f"{API_PREFIX}/events/no-such-event"), 404,
                       "not_found")


def test_404_for_an_unknown_channel(marketer_client, event, bearer, client):
    response = client.patch(f"{API_PREFIX}/events/{event.slug}/channels/424242",
                            json={"name": "X"}, headers=bearer(marketer_client.user))
    assert_error_shape(response, 404, "not_found")


def test_404_for_an_unknown_job(marketer_client):
    assert_error_shape(marketer_client.get(f"{API_PREFIX}/jobs/no-such-job"), 404, "not_found")


@pytest.mark.parametrize("url", [f"{API_PREFIX}/nothing-here", f"{API_PREFIX}/events/x/y/z",
                                 "/api/v2/events", "/api/"])
def test_an_unknown_api_address_is_a_json_404(client, url):
    response = client.get(url, headers={"Accept": "text/html"})
    assert_error_shape(response, 404, "not_found")


@pytest.mark.single_db
def test_an_unknown_page_is_an_html_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Not found" in page
    assert "Back to my events" in page


@pytest.mark.single_db
def test_a_script_asking_for_json_on_an_unknown_page_gets_json(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert_error_shape(response, 404, "not_found")


def test_405_for_a_method_the_address_does_not_take(marketer_client, event):
    response = marketer_client.delete(f"{API_PREFIX}/events/{event.slug}")
    assert_error_shape(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_422_with_details_per_field(client, marketer_client, event, bearer):
    response = client.post(f"{API_PREFIX}/events/{event.slug}/channels",
                           json={"kind": "wechat", "spend": "-1"},
                           headers=bearer(marketer_client.user))
    error = assert_error_shape(response, 422, "invalid")
    assert set(error["details"]) == {"name", "spend"}


def test_422_for_a_bad_query(sales_client, event):
    response = sales_client.get(f"{API_PREFIX}/events/{event.slug}/registrations?page=0")
    error = assert_error_shape(response, 422, "invalid")
    assert set(error["details"]) == {"page"}


def test_400_for_a_body_that_is_not_json(client, marketer_client, event, bearer):
    response = client.post(f"{API_PREFIX}/events/{event.slug}/channels", data="{not json",
                           content_type="application/json",
                           headers=bearer(marketer_client.user))
    error = assert_error_shape(response, 400, "bad_request")
    assert error["details"] == {"json": ["Invalid JSON body."]}


def test_422_for_json_that_is_not_an_object(client, marketer_client, event, bearer):
    response = client.post(f"{API_PREFIX}/events/{event.slug}/channels", json=[1, 2],
                           headers=bearer(marketer_client.user))
    assert_error_shape(response, 422, "invalid")


def test_400_for_a_session_call_without_the_csrf_header(marketer_client, event):
    response = marketer_client.post(f"{API_PREFIX}/events/{event.slug}/channels",
                                    json={"name": "X", "kind": "sms"})
    assert_error_shape(response, 400, "csrf_failed")


def test_413_for_a_body_over_the_limit_on_the_api(app, client, marketer_client, event,
                                                  bearer):
    headers = bearer(marketer_client.user)
    app.config["MAX_CONTENT_LENGTH"] = 1024

    response = client.post(f"{API_PREFIX}/events/{event.slug}/channels",
                           json={"name": "x" * 2000, "kind": "sms"}, headers=headers)

    error = assert_error_shape(response, 413, "payload_too_large")
    assert error["message"] == TOO_LARGE
    small = client.post(f"{API_PREFIX}/events/{event.slug}/channels",
                        json={"name": "Small", "kind": "sms"}, headers=headers)
    assert small.status_code == 201


def test_413_for_a_form_over_the_limit(app, marketer_client, event):
    token = marketer_client.csrf_token()
    app.config["MAX_CONTENT_LENGTH"] = 1024

    response = marketer_client.post(f"/events/{event.slug}/channels", data={
        "csrf_token": token, "name": "x" * 2000, "kind": "sms", "spend": "1"})

    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert TOO_LARGE in response.get_data(as_text=True)
    assert marketer_client.get(f"{API_PREFIX}/events/{event.slug}/channels").json == []


@pytest.mark.single_db
def test_the_error_message_follows_the_language(client):
    response = client.get(f"{API_PREFIX}/me", headers={"Accept-Language": "zh-CN"})
    error = assert_error_shape(response, 401, "unauthorized")
    assert "Please log in first" not in error["message"]


@pytest.mark.single_db
def test_a_message_carrying_what_someone_typed_is_shown_as_text_not_html(app, client):
    from flask_babel import lazy_gettext as _l

    from eventapp.core.errors import ValidationFailed

    @app.get("/_echo")
    def echo() -> str:
        raise ValidationFailed(_l("Unknown role %(role)s.", role="<script>alert(1)</script>"))

    page = client.get("/_echo", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
