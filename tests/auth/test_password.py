"""Changing the password: it needs the current one, and it signs out every other session of the
person (a lost phone stops working) while the device that changed it stays signed in."""

from __future__ import annotations

from argon2 import PasswordHasher

from eventapp.auth.models import User
from eventapp.extensions import db
from tests.factories import Factory

NEW_PASSWORD = "a new and long 密码 2"


def change(client, current: str, new: str = NEW_PASSWORD, confirm: str | None = None):
    return client.post_form("/account/password", {
        "password-current_password": current, "password-new_password": new,
        "password-confirm": new if confirm is None else confirm})


def stored_hash(app, user) -> str:
    with app.app_context():
        return db.session.get(User, user.id).password_hash


def test_a_wrong_current_password_changes_nothing(app, marketer_client):
    before = stored_hash(app, marketer_client.user)

    response = change(marketer_client, "not my password")

    assert response.status_code == 200
    assert "The current password is not right." in response.get_data(as_text=True)
    assert stored_hash(app, marketer_client.user) == before


def test_the_new_password_must_be_typed_twice_alike(app, marketer_client):
    before = stored_hash(app, marketer_client.user)

    response = change(marketer_client, Factory.PASSWORD, confirm="something else entirely")

    assert "The two do not match." in response.get_data(as_text=True)
    assert stored_hash(app, marketer_client.user) == before


def test_a_short_new_password_is_refused(app, marketer_client):
    before = stored_hash(app, marketer_client.user)

    response = change(marketer_client, Factory.PASSWORD, new="short")

    assert "between 10 and 256 characters" in response.get_data(as_text=True)
    assert stored_hash(app, marketer_client.user) == before


def test_the_change_takes_effect(app, client, marketer_client):
    user = marketer_client.user

    response = change(marketer_client, Factory.PASSWORD)

    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    page = marketer_client.get("/account").get_data(as_text=True)
    assert "Your password is changed. Other devices have been signed out." in page
    new_hash = stored_hash(app, user)
    assert new_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(new_hash, NEW_PASSWORD)

    old = client.post_form("/login", {"email": user.email, "password": Factory.PASSWORD})
    assert old.status_code == 401
    client.login(user.email, NEW_PASSWORD)


def test_the_change_signs_out_the_other_sessions_only(app, marketer_client):
    user = marketer_client.user
    phone = app.test_client()
    phone.login(user.email, Factory.PASSWORD)
    laptop = app.test_client()  # "keep me signed in": the remember cookie must not survive it
    laptop.post_form("/login", {"email": user.email, "password": Factory.PASSWORD,
                                "remember": "y"})
    assert phone.get("/account").status_code == 200
    assert laptop.get("/account").status_code == 200

    assert change(marketer_client, Factory.PASSWORD).status_code == 302

    assert marketer_client.get("/account").status_code == 200
    for other in (phone, laptop):
        response = other.get("/account")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
    laptop.delete_cookie("session")  # a browser restart: only the remember cookie is left
    assert laptop.get("/account").status_code == 302


def test_changing_the_password_needs_a_session(client):
    response = client.post_form("/account/password", {
        "password-current_password": "whatever it is", "password-new_password": NEW_PASSWORD,
        "password-confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
