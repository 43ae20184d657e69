"""Logging in and out: the right password lets a person in, anything else gets one message that
tells nobody whether the e-mail has an account; `next` never leads off the site; passwords are
stored as Argon2id hashes only."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from eventapp.auth.models import User
from eventapp.auth.services import create_user
from eventapp.extensions import db
from tests.factories import Factory

NO_MATCH = "That e-mail and password do not match an active account."
FIELD_ERRORS = re.compile(r'<small class="field__error"[^>]*>([^<]*)</small>')


def field_errors(response) -> list[str]:
    return FIELD_ERRORS.findall(response.get_data(as_text=True))


def is_signed_in(client) -> bool:
    """A signed-in person gets their home page; anyone else is sent to the login page."""
    return client.get("/").status_code == 200


def test_the_right_password_signs_in_and_goes_home(client, make):
    user = make.user()

    response = client.post_form("/login", {"email": user.email, "password": Factory.PASSWORD})

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert is_signed_in(client)


def test_the_e_mail_is_matched_whatever_its_case(client, make):
    user = make.user(email="wang.fang@example.com")

    response = client.post_form("/login", {"email": " Wang.Fang@EXAMPLE.com ",
                                           "password": Factory.PASSWORD})

    assert response.status_code == 302
    assert is_signed_in(client)


def test_the_login_sets_the_time_of_the_last_login(app, client, make):
    user = make.user()
    client.login(user.email, Factory.PASSWORD)
    with app.app_context():
        assert db.session.get(User, user.id).last_login_at is not None


@pytest.mark.single_db
def test_a_page_without_a_session_sends_to_the_login_page_and_back(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/account"


def test_wrong_password_and_unknown_e_mail_get_the_same_answer(client, make):
    user = make.user()

    wrong_password = client.post_form("/login", {"email": user.email, "password": "not it at all"})
    unknown_email = client.post_form("/login", {"email": "nobody@example.com",
                                                "password": Factory.PASSWORD})

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert field_errors(wrong_password) == field_errors(unknown_email) == [NO_MATCH]
    assert not is_signed_in(client)


def test_a_malformed_e_mail_gets_the_same_answer_too(client, make):
    make.user()
    response = client.post_form("/login", {"email": "not-an-address", "password": "x" * 12})
    assert response.status_code == 401
    assert field_errors(response) == [NO_MATCH]


def test_an_inactive_user_cannot_log_in(client, make):
    user = make.user(active=False)

    response = client.post_form("/login", {"email": user.email, "password": Factory.PASSWORD})

    assert response.status_code == 401
    assert field_errors(response) == [NO_MATCH]
    assert not is_signed_in(client)


def test_a_user_deactivated_while_signed_in_is_signed_out(app, client, make):
    user = make.user()
    client.login(user.email, Factory.PASSWORD)
    assert is_signed_in(client)

    with app.app_context():
        db.session.get(User, user.id).active = False
        db.session.commit()

    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.single_db
@pytest.mark.parametrize("target", ["/x", "/events/expo-1/people?q=%E5%BC%A0", "/account"])
def test_next_follows_a_path_of_this_site(client, make, target):
    user = make.user()
    response = client.post_form("/login", {"email": user.email, "password": Factory.PASSWORD},
                                query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == target


EVIL_TARGETS = [
    "//evil.example",
    "//evil.example/login",
    "https://evil.example",
    "http://evil.example/",
    "\\\\evil",
    "/\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",  # browsers drop tabs and newlines: this is //evil.example
    "/\n/evil.example",
    "/\r\n/evil.example",
    "javascript:alert(1)",
    "evil.example",
]


@pytest.mark.single_db
@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_next_never_leads_to_another_site(client, make, target):
    user = make.user()
    response = client.post_form("/login", {"email": user.email, "password": Factory.PASSWORD},
                                query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert is_signed_in(client)


@pytest.mark.single_db
@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_a_signed_in_visit_of_the_login_page_never_leads_to_another_site(marketer_client,
                                                                          target):
    response = marketer_client.get("/login", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.single_db
@pytest.mark.parametrize("target", ["//evil.example", "/\t/evil.example", "https://evil.example"])
def test_the_language_switch_never_leads_to_another_site(client, target):
    response = client.post_form("/locale", {"locale": "en", "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_logout_is_not_a_link(marketer_client):
    response = marketer_client.get("/logout")
    assert response.status_code == 405
    assert is_signed_in(marketer_client)


def test_logout_without_the_csrf_token_is_refused(marketer_client):
    response = marketer_client.post("/logout")
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert is_signed_in(marketer_client)


def test_logout_signs_out(marketer_client):
    response = marketer_client.post_form("/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert not is_signed_in(marketer_client)


def test_a_password_is_stored_as_an_argon2id_hash_only(app):
    with app.app_context():
        create_user("Li.Na@Example.com", "李娜", "a long secret 密码")
        db.session.commit()
        user = db.session.scalar(sa.select(User))
    assert user.email == "li.na@example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert "a long secret" not in user.password_hash
    assert PasswordHasher().verify(user.password_hash, "a long secret 密码")


def test_the_user_made_by_create_user_can_log_in(app, client):
    with app.app_context():
        create_user("zhao@example.com", "赵", "a long secret 密码")
        db.session.commit()
    client.login("ZHAO@example.com", "a long secret 密码")
    assert is_signed_in(client)


def test_an_outdated_hash_is_upgraded_at_login(app, client, make):
    user = make.user()
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(Factory.PASSWORD)
    with app.app_context():
        db.session.get(User, user.id).password_hash = weak
        db.session.commit()

    client.login(user.email, Factory.PASSWORD)

    with app.app_context():
        stored = db.session.get(User, user.id).password_hash
    assert stored != weak
    assert stored.startswith("$argon2id$")
    assert not PasswordHasher().check_needs_rehash(stored)


@pytest.mark.single_db
def test_a_new_secret_key_signs_everyone_out_unless_the_old_one_is_a_fallback(app, client,
                                                                            make):
    """The session cookie's signer is made once per secret key, not per request: rotating
    the key still ends every session, and naming the old key in SECRET_KEY_FALLBACKS
    keeps them."""
    user = make.user()
    client.post_form("/login", {"email": user.email, "password": Factory.PASSWORD})
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None and is_signed_in(client)

    def signed_in_with_that_cookie() -> bool:
        browser = app.test_client()
        browser.set_cookie(cookie.key, cookie.value)
        return is_signed_in(browser)

    old_key = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "a-new-secret-key-" + "x" * 40
    assert not signed_in_with_that_cookie()
    app.config["SECRET_KEY_FALLBACKS"] = [old_key]
    assert signed_in_with_that_cookie()
