"""Every event page and API checks the caller's role on that event.

The policy: marketers run the whole event; booth staff open the gate; sales open the people
list and the registrations API; staff and sales may read the event's summary through the API;
admins open everything; someone on no team opens nothing of the event. A missing event is a 404
for everyone; without a session a page sends to the login page and the API answers 401.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from eventapp.events.models import Channel, EventRole, Membership
from eventapp.extensions import db

MARKETER_PAGES = ("/events/{slug}/", "/events/{slug}/channels", "/events/{slug}/team")
MARKETER_APIS = ("/api/v1/events/{slug}/channels",)
ROLES = ("marketer", "staff", "sales", "admin", "outsider")

#: page -> the roles that may open it
PAGES = {
    "/events/{slug}/": {"marketer", "admin"},
    "/events/{slug}/channels": {"marketer", "admin"},
    "/events/{slug}/channels/{channel}": {"marketer", "admin"},
    "/events/{slug}/team": {"marketer", "admin"},
    "/events/{slug}/checkin": {"marketer", "staff", "admin"},
    "/events/{slug}/people": {"marketer", "sales", "admin"},
}

#: (method, url, JSON body, the roles that may call it, their status)
APIS = [
    ("GET", "/api/v1/events/{slug}", None, {"marketer", "staff", "sales", "admin"}, 200),
    ("GET", "/api/v1/events/{slug}/channels", None, {"marketer", "admin"}, 200),
    ("POST", "/api/v1/events/{slug}/channels", {"name": "Partner mail", "kind": "partner"},
     {"marketer", "admin"}, 201),
    ("PATCH", "/api/v1/events/{slug}/channels/{channel}", {"name": "Renamed"},
     {"marketer", "admin"}, 200),
    ("GET", "/api/v1/events/{slug}/registrations", None, {"marketer", "sales", "admin"}, 200),
]
API_IDS = [f"{method} {url}" for method, url, *_ in APIS]


@pytest.fixture
def channel(make, event):
    return make.channel(event, name="WeChat article", code="wechat-a")


@pytest.fixture
def client_as(request):
    """`client_as(role)`: the signed-in client of that role on `event` (one of ROLES)."""
    return lambda role: request.getfixturevalue(f"{role}_client")


def channel_names(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Channel.name).order_by(Channel.id)))


def call(client, method: str, url: str, body, *, csrf: bool = True):
    headers = {"X-CSRFToken": client.csrf_token()} if csrf and method != "GET" else {}
    return client.open(url, method=method, json=body, headers=headers)


# --- the original examples ----------------------------------------------------------------

@pytest.mark.parametrize("page", MARKETER_PAGES)
def test_staff_cannot_open_a_marketer_page(staff_client, event, page):
    response = staff_client.get(page.format(slug=event.slug))
    assert response.status_code == 403
    assert "No access" in response.get_data(as_text=True)


@pytest.mark.parametrize("api", MARKETER_APIS)
def test_staff_cannot_call_a_marketer_api(staff_client, event, api):
    response = staff_client.get(api.format(slug=event.slug))
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert response.json["error"]["message"]


def test_marketer_opens_marketer_pages(marketer_client, event):
    for page in MARKETER_PAGES:
        assert marketer_client.get(page.format(slug=event.slug)).status_code == 200


# --- the matrix ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", PAGES)
def test_page_access_by_role(client_as, event, channel, page, role):
    response = client_as(role).get(page.format(slug=event.slug, channel=channel.id))
    text = response.get_data(as_text=True)
    if role in PAGES[page]:
        assert response.status_code == 200
        assert event.title in text
    else:
        assert response.status_code == 403
        assert response.mimetype == "text/html"
        assert "No access" in text
        assert "to add you to the team with the right role" in text


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "url", "body", "allowed", "status"), APIS, ids=API_IDS)
def test_api_access_by_role(app, client_as, event, channel, role, method, url, body, allowed,
                            status):
    response = call(client_as(role), method, url.format(slug=event.slug, channel=channel.id),
                    body)
    if role in allowed:
        assert response.status_code == status
    else:
        assert response.status_code == 403
        assert response.mimetype == "application/json"
        assert response.json["error"]["code"] == "forbidden"
        assert response.json["error"]["message"]
        assert channel_names(app) == ["WeChat article"]  # nothing created, nothing renamed


@pytest.mark.parametrize("page", PAGES)
def test_a_page_of_an_unknown_event_is_not_found(admin_client, marketer_client, channel, page):
    for client in (admin_client, marketer_client):
        response = client.get(page.format(slug="no-such-event", channel=channel.id))
        assert response.status_code == 404
        assert "Not found" in response.get_data(as_text=True)


@pytest.mark.parametrize(("method", "url", "body", "allowed", "status"), APIS, ids=API_IDS)
def test_an_api_of_an_unknown_event_is_not_found(admin_client, marketer_client, channel,
                                                 method, url, body, allowed, status):
    for client in (admin_client, marketer_client):
        response = call(client, method, url.format(slug="no-such-event", channel=channel.id),
                        body)
        assert response.status_code == 404
        assert response.json["error"]["code"] == "not_found"


@pytest.mark.parametrize("page", PAGES)
def test_a_page_without_a_session_sends_to_the_login_page(client, event, channel, page):
    url = page.format(slug=event.slug, channel=channel.id)
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={url}"


@pytest.mark.parametrize(("method", "url", "body", "allowed", "status"), APIS, ids=API_IDS)
def test_an_api_without_a_session_is_unauthorized(app, client, event, channel, method, url,
                                                  body, allowed, status):
    response = call(client, method, url.format(slug=event.slug, channel=channel.id), body,
                    csrf=False)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert channel_names(app) == ["WeChat article"]


# --- one event's team has no say over another event ---------------------------------------

@pytest.fixture
def other_event(make):
    return make.event(title="Other Expo")


@pytest.mark.parametrize("page", PAGES)
def test_a_marketer_cannot_open_another_events_pages(make, marketer_client, other_event, page):
    other_channel = make.channel(other_event)
    response = marketer_client.get(page.format(slug=other_event.slug, channel=other_channel.id))
    assert response.status_code == 403


@pytest.mark.parametrize(("method", "url", "body", "allowed", "status"), APIS, ids=API_IDS)
def test_a_marketer_cannot_call_another_events_apis(app, make, marketer_client, other_event,
                                                    method, url, body, allowed, status):
    other_channel = make.channel(other_event, name="Theirs")
    response = call(marketer_client, method,
                    url.format(slug=other_event.slug, channel=other_channel.id), body)
    assert response.status_code == 403
    assert channel_names(app) == ["Theirs"]


def test_a_channel_of_another_event_cannot_be_changed_through_ones_own(
        app, make, marketer_client, event, other_event):
    theirs = make.channel(other_event, name="Theirs", spend="10.00")

    api = call(marketer_client, "PATCH", f"/api/v1/events/{event.slug}/channels/{theirs.id}",
               {"name": "Mine now", "spend": "0"})
    page = marketer_client.post_form(f"/events/{event.slug}/channels/{theirs.id}",
                                     {"name": "Mine now", "kind": "wechat", "spend": "0"})

    assert api.status_code == 404
    assert api.json["error"]["code"] == "not_found"
    assert page.status_code == 404
    assert channel_names(app) == ["Theirs"]


def test_a_member_of_another_event_cannot_be_removed_through_ones_own(
        app, make, marketer_client, event, other_event):
    someone = make.user()
    theirs = make.membership(other_event, someone, "sales")

    marketer_client.post_form(f"/events/{event.slug}/team/{theirs.id}/remove")

    with app.app_context():
        assert db.session.get(Membership, theirs.id) is not None


def test_the_events_list_shows_only_ones_own_events(marketer_client, outsider_client,
                                                    admin_client, event, other_event):
    def slugs(client):
        response = client.get("/api/v1/events")
        assert response.status_code == 200
        return {e["slug"] for e in response.json}

    assert slugs(marketer_client) == {event.slug}
    assert slugs(outsider_client) == set()
    assert slugs(admin_client) == {event.slug, other_event.slug}


# --- forbidden changes are refused before anything is looked at ---------------------------

def test_staff_cannot_add_a_channel_through_the_form(app, staff_client, event, channel):
    response = staff_client.post_form(f"/events/{event.slug}/channels",
                                      {"name": "Sneaky", "kind": "sms", "spend": "1"})
    assert response.status_code == 403
    assert channel_names(app) == ["WeChat article"]


@pytest.mark.parametrize("role", ["staff", "sales", "outsider"])
def test_nobody_but_a_marketer_can_join_the_team_as_marketer(app, client_as, event, role):
    client = client_as(role)
    response = client.post_form(f"/events/{event.slug}/team",
                                {"email": client.user.email, "role": "marketer"})
    assert response.status_code == 403
    with app.app_context():
        roles = set(db.session.scalars(sa.select(Membership.role).where(
            Membership.user_id == client.user.id)))
    assert EventRole.MARKETER not in roles


@pytest.mark.parametrize("role", ["staff", "sales", "outsider"])
def test_a_forbidden_api_call_is_refused_before_its_body_is_checked(app, client_as, event,
                                                                    role):
    """A caller without the role learns nothing from validation errors: 403, not 422."""
    response = call(client_as(role), "POST", f"/api/v1/events/{event.slug}/channels",
                    {"kind": "no-such-kind"})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"


def test_an_unknown_event_is_not_found_whatever_the_body(marketer_client):
    response = call(marketer_client, "POST", "/api/v1/events/no-such-event/channels", {})
    assert response.status_code == 404


def test_a_forbidden_query_is_refused_before_it_is_checked(staff_client, event):
    response = staff_client.get(f"/api/v1/events/{event.slug}/registrations?status=bogus")
    assert response.status_code == 403


def test_staff_can_log_out_from_the_tablet(staff_client, event):
    page = staff_client.get(f"/events/{event.slug}/checkin").get_data(as_text=True)
    assert 'action="/logout"' in page
    staff_client.post_form("/logout")
    assert staff_client.get(f"/events/{event.slug}/checkin").status_code == 302
