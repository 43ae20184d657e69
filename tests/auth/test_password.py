"""Changing the password: it needs the current one, and it signs out every other session of the
person (a lost phone stops working) while the device that changed it stays signed in."""

from __future__ import annotations

import pytest
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


# An event's page reads the session's user with the event and the role (events/access.py).
@pytest.mark.parametrize("page", ["/account", "/events/{slug}/"])
def test_the_change_signs_out_the_other_sessions_only(app, marketer_client, event, page):
    page = page.format(slug=event.slug)
    user = marketer_client.user
    phone = app.test_client()
    phone.login(user.email, Factory.PASSWORD)
    laptop = app.test_client()  # "keep me signed in": the remember cookie must not survive it
    laptop.post_form("/login", {"email": user.email, "password": Factory.PASSWORD,
                                "remember": "y"})
    assert phone.get(page).status_code == 200
    assert laptop.get(page).status_code == 200

    assert change(marketer_client, Factory.PASSWORD).status_code == 302

    assert marketer_client.get(page).status_code == 200
    for other in (phone, laptop):
        response = other.get(page)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
    laptop.delete_cookie("session")  # a browser restart: only the remember cookie is left
    assert laptop.get(page).status_code == 302


def test_changing_the_password_needs_a_session(client):
    response = client.post_form("/account/password", {
        "password-current_password": "whatever it is", "password-new_password": NEW_PASSWORD,
        "password-confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")



@pytest.fixture
def transaction_open_during_hash(monkeypatch) -> list[bool]:
    """Whether a database transaction was open at each Argon2 check."""
    from eventapp.auth import services

    seen: list[bool] = []

    class WatchedHasher:
        def __init__(self, hasher: PasswordHasher) -> None:
            self.hasher = hasher

        def verify(self, stored: str, password: str) -> bool:
            seen.append(db.session().in_transaction())
            return self.hasher.verify(stored, password)

        def __getattr__(self, name: str) -> object:
            return getattr(self.hasher, name)

    monkeypatch.setattr(services, "_hasher", WatchedHasher(services._hasher))
    return seen


@pytest.mark.parametrize("email, password", [
    ("user@example.com", Factory.PASSWORD), ("user@example.com", "a wrong password"),
    ("nobody@example.com", "a wrong password")])
def test_no_transaction_is_open_while_a_login_is_checked(app, make, email, password,
                                                        transaction_open_during_hash):
    """Argon2 takes ~100 ms on purpose: holding SQLite's write lock meanwhile would stall every
    other writer (a gate's check-ins) behind each login attempt."""
    from eventapp.auth import services

    make.user(email="user@example.com")
    right = (email, password) == ("user@example.com", Factory.PASSWORD)
    with app.app_context():
        if right:
            services.authenticate(email, password)
        else:
            with pytest.raises(services.InvalidCredentials):
                services.authenticate(email, password)
    assert transaction_open_during_hash == [False]


def test_no_transaction_is_open_while_a_password_is_changed(app, make,
                                                           transaction_open_during_hash):
    from eventapp.auth import services

    user = make.user()
    with app.app_context():
        services.change_password(db.session.get(User, user.id), make.PASSWORD,
                                 "a brand new passphrase")
        db.session.commit()
        assert db.session.get(User, user.id).password_hash != user.password_hash
    assert transaction_open_during_hash == [False]
