"""API tokens: made on the account page and shown once, stored as a SHA-256 only, accepted as
`Authorization: Bearer` on the API (and nowhere else), refused once revoked."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from eventapp.auth.models import ApiToken, User
from eventapp.core.time import utcnow
from eventapp.extensions import db

TOKEN = re.compile(r'<code class="token" data-copy>(ea_[A-Za-z0-9_-]+)</code>')


def create_token(client, name: str = "CRM sync") -> str:
    response = client.post_form("/account/tokens", {"token-name": name})
    assert response.status_code == 200, "shown in the answer itself, never kept in the session"
    match = TOKEN.search(response.get_data(as_text=True))
    assert match, "the new token is shown on the page after it is made"
    return match.group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_row(app, **where) -> ApiToken:
    with app.app_context():
        return db.session.scalar(sa.select(ApiToken).filter_by(**where))


def set_last_used(app, token_id: int, moment) -> None:
    with app.app_context():
        db.session.get(ApiToken, token_id).last_used_at = moment
        db.session.commit()


def test_a_new_token_is_shown_once(marketer_client):
    token = create_token(marketer_client, "CRM sync 同步")

    again = marketer_client.get("/account").get_data(as_text=True)
    assert token not in again
    assert "CRM sync 同步" in again  # still listed, by name and first characters
    assert token[:10] in again


def test_only_the_sha256_of_a_token_is_stored(app, marketer_client):
    token = create_token(marketer_client)

    row = token_row(app, user_id=marketer_client.user.id)
    assert row.token_hash != token
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.name, row.prefix)


def test_a_token_signs_in_on_the_api(app, client, marketer_client, event):
    token = create_token(marketer_client)

    response = client.get("/api/v1/me", headers=bearer(token))

    assert response.status_code == 200
    assert response.json["email"] == marketer_client.user.email
    assert response.json["events"] == [{"slug": event.slug, "title": event.title,
                                        "role": "marketer"}]


@pytest.mark.single_db
@pytest.mark.parametrize("header", [
    "Bearer ea_not-a-real-token",
    "Bearer not-even-our-prefix",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "ea_no-scheme",
])
def test_a_wrong_token_is_refused_with_a_json_error(client, make, header):
    make.user()
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert "Authorization" in response.json["error"]["message"]


def test_a_revoked_token_is_refused(app, client, marketer_client):
    token = create_token(marketer_client)
    row = token_row(app, user_id=marketer_client.user.id)

    response = marketer_client.post_form(f"/account/tokens/{row.id}/revoke")

    assert response.status_code == 302
    assert token_row(app, id=row.id).revoked_at is not None
    assert "CRM sync" not in marketer_client.get("/account").get_data(as_text=True)
    refused = client.get("/api/v1/me", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json["error"]["code"] == "unauthorized"


def test_the_token_of_another_user_cannot_be_revoked(app, client, marketer_client,
                                                     sales_client):
    token = create_token(marketer_client)
    row = token_row(app, user_id=marketer_client.user.id)

    response = sales_client.post_form(f"/account/tokens/{row.id}/revoke")

    assert response.status_code == 404
    assert token_row(app, id=row.id).revoked_at is None
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200


def test_revoking_needs_the_csrf_token(app, marketer_client):
    create_token(marketer_client)
    row = token_row(app, user_id=marketer_client.user.id)

    response = marketer_client.post(f"/account/tokens/{row.id}/revoke")

    assert response.status_code == 400
    assert token_row(app, id=row.id).revoked_at is None


def test_the_token_of_a_deactivated_user_is_refused(app, client, marketer_client):
    token = create_token(marketer_client)
    with app.app_context():
        db.session.get(User, marketer_client.user.id).active = False
        db.session.commit()

    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_the_last_use_is_noted_and_not_rewritten_within_five_minutes(app, client,
                                                                     marketer_client):
    token = create_token(marketer_client)
    row = token_row(app, user_id=marketer_client.user.id)
    assert row.last_used_at is None

    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    first_use = token_row(app, id=row.id).last_used_at
    assert first_use is not None
    assert abs(first_use - utcnow()) < timedelta(minutes=1)

    recent = utcnow() - timedelta(minutes=4)
    set_last_used(app, row.id, recent)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert token_row(app, id=row.id).last_used_at == recent

    stale = utcnow() - timedelta(minutes=6)
    set_last_used(app, row.id, stale)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert token_row(app, id=row.id).last_used_at > stale + timedelta(minutes=5)


def test_a_refused_token_notes_no_use(app, client, marketer_client):
    token = create_token(marketer_client)
    row = token_row(app, user_id=marketer_client.user.id)
    marketer_client.post_form(f"/account/tokens/{row.id}/revoke")

    client.get("/api/v1/me", headers=bearer(token))

    assert token_row(app, id=row.id).last_used_at is None


def test_a_token_does_not_open_the_web_pages(client, marketer_client, event):
    token = create_token(marketer_client)

    for page in ("/", "/account", f"/events/{event.slug}/"):
        response = client.get(page, headers=bearer(token))
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


def test_making_a_token_needs_a_name(marketer_client):
    response = marketer_client.post_form("/account/tokens", {"token-name": ""})
    assert response.status_code == 200
    assert "This field is required." in response.get_data(as_text=True)
    assert not TOKEN.search(response.get_data(as_text=True))


# An event's API reads the token's owner with the event and their role in one query
# (events/access.py): the same rules as everywhere else.
@pytest.mark.parametrize("case, status", [
    ("own event", 200), ("unknown event", 404), ("another event", 403), ("wrong token", 401),
    ("revoked", 401), ("deactivated", 401)])
def test_a_token_on_an_events_api_gets_the_events_rules(app, client, make, marketer_client,
                                                        event, case, status):
    token = create_token(marketer_client)
    slug = {"unknown event": "no-such-event",
            "another event": make.event(slug="someone-elses").slug}.get(case, event.slug)
    with app.app_context():
        if case == "revoked":
            db.session.scalar(sa.select(ApiToken).filter_by(
                user_id=marketer_client.user.id)).revoked_at = utcnow()
        if case == "deactivated":
            db.session.get(User, marketer_client.user.id).active = False
        db.session.commit()
    if case == "wrong token":
        token = token[:-4] + "AAAA"

    response = client.get(f"/api/v1/events/{slug}", headers=bearer(token))

    assert response.status_code == status
    if status == 200:
        assert response.json["slug"] == event.slug
    else:
        assert response.json["error"]["status"] == status
