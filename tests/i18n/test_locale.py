"""Which language a person sees: their account's setting, then the language switch (kept in the
session), then the browser's Accept-Language, then DEFAULT_LOCALE (en in tests)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask_babel import force_locale

from eventapp import create_app
from eventapp.auth.models import User
from eventapp.core.errors import NotFound
from eventapp.extensions import db
from tests.factories import Factory

CATALOGUES = Path(__file__).resolve().parents[2] / "eventapp" / "translations"
HTML_LANG = re.compile(r'<html lang="([^"]+)">')


@pytest.fixture(autouse=True)
def compiled_catalogues() -> None:
    """The app serves .mo files, which are built from the .po files and never committed."""
    for po in CATALOGUES.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime, (
            f"{mo} is missing or older than its .po: "
            "run `pybabel compile -d eventapp/translations`")


def language_of(response) -> str:  # type: ignore[no-untyped-def]
    """'zh' or 'en', from what the page says; also checks that <html lang> agrees."""
    page = response.get_data(as_text=True)
    chinese, english = "登录" in page or "我的活动" in page, "Log in" in page or "My events" in page
    assert chinese != english, "the page should be in exactly one language"
    lang = HTML_LANG.search(page)
    assert lang, "every page has <html lang>"
    assert lang.group(1) == ("zh-Hans-CN" if chinese else "en")
    return "zh" if chinese else "en"


def user_locale(app, user_id: int) -> str | None:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.get(User, user_id).locale


@pytest.mark.single_db
@pytest.mark.parametrize(("accept_language", "expected"), [
    ("zh-CN", "zh"),
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    ("zh", "zh"),
    ("en", "en"),
    ("en-US,en;q=0.9", "en"),
    ("en,zh-CN;q=0.5", "en"),
])
def test_browser_language_chooses_the_login_page_language(client, accept_language, expected):
    response = client.get("/login", headers={"Accept-Language": accept_language})
    assert response.status_code == 200
    assert language_of(response) == expected


@pytest.mark.single_db
def test_chinese_login_page_is_translated(client):
    page = client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "<title>登录 · eventapp</title>" in page
    assert "邮箱" in page and "密码" in page and "在此设备上保持登录" in page


@pytest.mark.single_db
@pytest.mark.parametrize("headers", [{}, {"Accept-Language": "fr-FR,fr;q=0.9"}],
                         ids=["no header", "unsupported language"])
def test_default_locale_when_the_browser_names_none_we_have(client, headers):
    assert language_of(client.get("/login", headers=headers)) == "en"


@pytest.mark.single_db
def test_default_locale_is_configurable(app_env):
    app = create_app({"TESTING": True}, env={**app_env, "DEFAULT_LOCALE": "zh_CN"})
    try:
        assert language_of(app.test_client().get("/login")) == "zh"
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.single_db
def test_messages_of_services_and_forms_are_translated(client):
    """Lazy messages (a domain error, a form label) follow the request's language."""
    headers = {"Accept-Language": "zh-CN"}
    response = client.post_form("/login", {"email": "nobody@example.com", "password": "wrong"},
                                headers=headers)
    assert response.status_code == 401
    assert "邮箱或密码不正确，或该账号已停用。" in response.get_data(as_text=True)
    page = client.get("/no-such-page", headers=headers).get_data(as_text=True)
    assert "找不到此页面。" in page


def test_account_language_beats_the_browser(client, make):
    user = make.user(locale="zh_CN")
    client.login(user.email, Factory.PASSWORD)
    response = client.get("/", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert language_of(response) == "zh"


def test_language_switch_holds_for_the_session(client):
    headers = {"Accept-Language": "zh-CN"}
    assert language_of(client.get("/login", headers=headers)) == "zh"
    response = client.post_form("/locale", {"locale": "en", "next": "/login"}, headers=headers)
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert language_of(client.get("/login", headers=headers)) == "en"


def test_language_switch_is_saved_on_the_account(app, marketer_client):
    user = marketer_client.user
    assert user_locale(app, user.id) is None
    marketer_client.post_form("/locale", {"locale": "zh_CN", "next": "/"})
    assert user_locale(app, user.id) == "zh_CN"
    assert language_of(marketer_client.get("/", headers={"Accept-Language": "en"})) == "zh"

    # Another browser, signed in as the same person, opens in their language too.
    other = app.test_client()
    other.login(user.email, Factory.PASSWORD)
    assert language_of(other.get("/", headers={"Accept-Language": "en"})) == "zh"

    marketer_client.post_form("/locale", {"locale": "en", "next": "/"})
    assert user_locale(app, user.id) == "en"
    assert language_of(marketer_client.get("/", headers={"Accept-Language": "zh-CN"})) == "en"


@pytest.mark.single_db
def test_language_switch_ignores_unknown_locales(client):
    response = client.post_form("/locale", {"locale": "fr", "next": "/login"},
                                headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 302
    assert language_of(client.get("/login", headers={"Accept-Language": "zh-CN"})) == "zh"


@pytest.mark.single_db
def test_messages_outside_a_request_use_the_default_locale(app):
    """The CLI and Celery tasks have no request: DEFAULT_LOCALE, or force_locale for a person."""
    with app.app_context():
        assert str(NotFound().message) == "We could not find what you asked for."
        with force_locale("zh_CN"):
            assert str(NotFound().message) == "找不到您要查找的内容。"


# --- a known gap of eventapp/core/i18n.py. Strict: once fixed, this passes and the marker goes.

@pytest.mark.single_db
@pytest.mark.parametrize("accept_language", ["zh-Hans-CN", "zh-Hans"])
def test_script_tagged_chinese_gets_chinese(client, accept_language):
    response = client.get("/login", headers={"Accept-Language": accept_language})
    assert language_of(response) == "zh"
