"""A form sent without the page's CSRF token (another site's forged form, or a page left open
through a restart) is refused with the "form has expired" page and changes nothing.
The event forms (channels, team) are checked in tests/events/, the JSON API in tests/api/."""

from __future__ import annotations

from eventapp.auth.models import User
from eventapp.extensions import db
from tests.factories import Factory

EXPIRED = "This form has expired or was not sent from this site."


def assert_refused(response) -> None:
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert EXPIRED in response.get_data(as_text=True)


def test_login_without_the_token_is_refused(client, make):
    user = make.user()

    response = client.post("/login", data={"email": user.email, "password": Factory.PASSWORD})

    assert_refused(response)
    assert client.get("/").status_code == 302
    assert client.get("/").headers["Location"].startswith("/login")


def test_login_with_a_forged_token_is_refused(client, make):
    user = make.user()
    response = client.post("/login", data={"email": user.email, "password": Factory.PASSWORD,
                                           "csrf_token": "forged-token"})
    assert_refused(response)


def test_changing_the_password_without_the_token_is_refused(app, marketer_client):
    user = marketer_client.user
    with app.app_context():
        before = db.session.get(User, user.id)
        before_hash, before_session = before.password_hash, before.session_token

    response = marketer_client.post("/account/password", data={
        "password-current_password": Factory.PASSWORD,
        "password-new_password": "a brand new password",
        "password-confirm": "a brand new password"})

    assert_refused(response)
    with app.app_context():
        after = db.session.get(User, user.id)
        assert (after.password_hash, after.session_token) == (before_hash, before_session)


def test_a_token_from_another_session_is_refused(app, marketer_client):
    """The token is tied to the session: one copied from someone else's page does not work."""
    other = app.test_client()
    stolen = other.csrf_token()

    response = marketer_client.post("/account", data={"profile-name": "Mallory",
                                                      "profile-locale": "",
                                                      "profile-csrf_token": stolen})

    assert_refused(response)
    with app.app_context():
        assert db.session.get(User, marketer_client.user.id).name != "Mallory"


def test_profile_without_the_token_is_refused(app, marketer_client):
    response = marketer_client.post("/account", data={"profile-name": "Mallory",
                                                      "profile-locale": ""})
    assert_refused(response)
    with app.app_context():
        assert db.session.get(User, marketer_client.user.id).name != "Mallory"


def test_the_profile_form_with_its_token_is_saved(app, marketer_client):
    response = marketer_client.post("/account", data={
        "profile-name": "王芳", "profile-locale": "zh_CN",
        "csrf_token": marketer_client.csrf_token()})
    assert response.status_code == 302
    with app.app_context():
        user = db.session.get(User, marketer_client.user.id)
        assert (user.name, user.locale) == ("王芳", "zh_CN")


def test_making_an_api_token_without_the_token_is_refused(app, marketer_client):
    response = marketer_client.post("/account/tokens", data={"token-name": "CRM"})
    assert_refused(response)
    assert "ea_" not in marketer_client.get("/account").get_data(as_text=True)
