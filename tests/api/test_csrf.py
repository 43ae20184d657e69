"""The JSON API from a browser session: a changing method needs the page's CSRF token in the
X-CSRFToken header, or another site could make the browser send it. A call with an API token
cannot be forged that way and needs none."""

from __future__ import annotations

import sqlalchemy as sa

from eventapp.events.models import Channel
from eventapp.extensions import db

NEW_CHANNEL = {"name": "公众号推文 🎉", "kind": "wechat", "spend": "800.00"}


def channel_names(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Channel.name).order_by(Channel.id)))


def assert_csrf_refused(response) -> None:
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert response.json["error"]["code"] == "csrf_failed"
    assert response.json["error"]["status"] == 400
    assert "expired" in response.json["error"]["message"]


def test_a_session_post_without_the_header_is_refused(app, marketer_client, event):
    response = marketer_client.post(f"/api/v1/events/{event.slug}/channels", json=NEW_CHANNEL)
    assert_csrf_refused(response)
    assert channel_names(app) == []


def test_a_session_post_with_a_wrong_header_is_refused(app, marketer_client, event):
    response = marketer_client.post(f"/api/v1/events/{event.slug}/channels", json=NEW_CHANNEL,
                                    headers={"X-CSRFToken": "forged"})
    assert_csrf_refused(response)
    assert channel_names(app) == []


def test_a_session_post_with_the_page_token_is_accepted(app, marketer_client, event):
    token = marketer_client.csrf_token()  # read from <meta name="csrf-token"> of a page

    response = marketer_client.post(f"/api/v1/events/{event.slug}/channels", json=NEW_CHANNEL,
                                    headers={"X-CSRFToken": token})

    assert response.status_code == 201
    assert response.json["name"] == NEW_CHANNEL["name"]
    assert channel_names(app) == [NEW_CHANNEL["name"]]


def test_a_session_patch_needs_the_header_too(app, make, marketer_client, event):
    channel = make.channel(event, name="Before")
    url = f"/api/v1/events/{event.slug}/channels/{channel.id}"

    refused = marketer_client.patch(url, json={"name": "After"})
    assert_csrf_refused(refused)
    assert channel_names(app) == ["Before"]

    accepted = marketer_client.patch(url, json={"name": "After"},
                                     headers={"X-CSRFToken": marketer_client.csrf_token()})
    assert accepted.status_code == 200
    assert channel_names(app) == ["After"]


def test_a_session_get_needs_no_header(marketer_client, event):
    assert marketer_client.get(f"/api/v1/events/{event.slug}/channels").status_code == 200


def test_a_token_call_needs_no_csrf_token(app, client, marketer_client, event, bearer):
    response = client.post(f"/api/v1/events/{event.slug}/channels", json=NEW_CHANNEL,
                           headers=bearer(marketer_client.user))
    assert response.status_code == 201
    assert channel_names(app) == [NEW_CHANNEL["name"]]


def test_a_token_patch_needs_no_csrf_token(app, make, client, marketer_client, event, bearer):
    channel = make.channel(event, name="Before")
    response = client.patch(f"/api/v1/events/{event.slug}/channels/{channel.id}",
                            json={"name": "After"}, headers=bearer(marketer_client.user))
    assert response.status_code == 200
    assert channel_names(app) == ["After"]


def test_a_forged_request_without_session_or_token_is_unauthorized(app, client, event):
    response = client.post(f"/api/v1/events/{event.slug}/channels", json=NEW_CHANNEL)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert channel_names(app) == []
